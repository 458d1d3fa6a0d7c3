"""A machine's health (engine/health.py): stale after two scheduled slots without a good point,
failing while the newest failed backup is newer than the newest point."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from cairn.engine.health import Failure, assess
from cairn.policy import Policy, parse_policy

DAILY_21 = """
[policy]
items = ["/x"]
timezone = "UTC"
start = 2026-03-01

[schedule]
frequency = "daily"
times = ["21:00"]

[retention.daily]
days = 7
"""

WEEKLY_SUNDAY = """
[policy]
items = ["/x"]
timezone = "Europe/Berlin"
start = 2026-03-01

[schedule]
frequency = "weekly"
days = ["sun"]
times = ["09:00"]

[retention.weekly]
weeks = 4
"""

DAY1 = datetime(2026, 3, 2, 21, 0, 5, tzinfo=UTC)  # a point taken for the 21:00 slot


def policy(text: str = DAILY_21) -> Policy:
    return parse_policy(text, default_timezone="UTC", today=date(2026, 3, 1))


def test_one_missed_slot_is_not_stale_the_second_is() -> None:
    one = assess(
        machine="box",
        policy=policy(),
        now=DAY1 + timedelta(days=1, minutes=30),
        last_point=("p1", DAY1),
        last_failure=None,
    )
    assert one.healthy and not one.stale and one.slots_without_point == 1
    assert one.next_run == datetime(2026, 3, 4, 21, 0, tzinfo=UTC)
    two = assess(
        machine="box",
        policy=policy(),
        now=datetime(2026, 3, 4, 21, 0, tzinfo=UTC),
        last_point=("p1", DAY1),
        last_failure=None,
    )
    assert two.stale and not two.healthy and two.slots_without_point == 2
    assert "stale: 2 scheduled backups passed" in two.problems[0]


def test_a_weekly_schedule_is_stale_only_after_two_sundays() -> None:
    sunday = datetime(2026, 3, 8, 8, 0, 3, tzinfo=UTC)  # 09:00 in Berlin
    p = policy(WEEKLY_SUNDAY)
    later = assess(
        machine="b",
        policy=p,
        now=sunday + timedelta(days=13),
        last_point=("p", sunday),
        last_failure=None,
    )
    assert not later.stale and later.slots_without_point == 1
    after_two = assess(
        machine="b",
        policy=p,
        now=sunday + timedelta(days=14, minutes=1),
        last_point=("p", sunday),
        last_failure=None,
    )
    assert after_two.stale


def test_a_new_machine_is_not_stale_before_two_slots_after_it_registered() -> None:
    registered = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    fresh = assess(
        machine="b",
        policy=policy(),
        now=registered + timedelta(hours=10),
        last_point=None,
        last_failure=None,
        registered=registered,
    )
    assert fresh.healthy and fresh.last_success is None and fresh.slots_without_point == 1
    never = assess(
        machine="b",
        policy=policy(),
        now=registered + timedelta(days=1, hours=10),
        last_point=None,
        last_failure=None,
        registered=registered,
    )
    assert never.stale and "without a recovery point ever" in never.problems[0]


def test_a_failure_newer_than_the_last_point_is_failing_an_older_one_is_history() -> None:
    failed = Failure("j" * 32, "backup", "scheduled", DAY1 + timedelta(days=1), "disk on fire")
    now = DAY1 + timedelta(days=1, hours=1)
    bad = assess(
        machine="b", policy=policy(), now=now, last_point=("p1", DAY1), last_failure=failed
    )
    assert bad.failing and not bad.healthy
    assert "the last backup failed" in bad.problems[0] and "disk on fire" in bad.problems[0]
    good = assess(
        machine="b", policy=policy(), now=now, last_point=("p2", now), last_failure=failed
    )
    assert good.healthy and not good.failing and good.last_failure == failed
    assert good.to_json()["last_failure"]["reason"] == "disk on fire"


def test_no_policy_is_unhealthy_unless_protection_is_stopped() -> None:
    none = assess(machine="b", policy=None, now=DAY1, last_point=None, last_failure=None)
    assert not none.healthy and "no backup policy" in none.problems[0]
    stopped = assess(
        machine="b",
        policy=policy(),
        now=DAY1 + timedelta(days=30),
        last_point=("p1", DAY1),
        last_failure=None,
        protection="stopped (data retained)",
    )
    assert stopped.healthy and not stopped.stale and stopped.next_run is None


def test_a_vault_that_cannot_be_read_is_unhealthy() -> None:
    h = assess(
        machine="b",
        policy=policy(),
        now=DAY1,
        last_point=None,
        last_failure=None,
        registered=DAY1,
        vault_problem="the vault cannot be read: HTTP 403",
    )
    assert not h.healthy and h.problems == ("the vault cannot be read: HTTP 403",)
