"""Back Up Now after a failed scheduled backup takes its place (MARS's legacy rule)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from cairn.policy import (
    PointFacts,
    Policy,
    Slot,
    SlotOutcome,
    expiry,
    rules_matching,
    simulate,
    substitute_for,
)
from cairn.policy.substitution import Outcome

from .conftest import Build

BERLIN = ZoneInfo("Europe/Berlin")


def slot(day: date, hour: int) -> Slot:
    return Slot(datetime(day.year, day.month, day.day, hour, 0), "Europe/Berlin")


def history(*entries: tuple[date, int, Outcome]) -> list[SlotOutcome]:
    return [SlotOutcome(slot(day, hour), outcome) for day, hour, outcome in entries]


FRIDAY = date(2027, 1, 8)
SATURDAY = date(2027, 1, 9)  # not the last Saturday of January
BEFORE: list[tuple[date, int, Outcome]] = [(FRIDAY, 0, "succeeded"), (FRIDAY, 18, "succeeded")]


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN)


def test_back_up_now_after_a_failed_saturday_takes_its_place(seed: Policy) -> None:
    recorded = history(*BEFORE, (SATURDAY, 0, "failed"))
    replaced = substitute_for(seed, at(SATURDAY, 10), recorded)
    assert replaced == slot(SATURDAY, 0)
    point = PointFacts(at(SATURDAY, 10), "on-demand", substitutes=replaced)
    assert rules_matching(point, seed) == ["daily", "weekly"]
    # Four weeks from its own time, not from the failed slot's.
    assert expiry(point, seed) == at(date(2027, 2, 6), 10)


def test_a_missed_saturday_counts_as_failed(seed: Policy) -> None:
    recorded = history(*BEFORE, (SATURDAY, 0, "missed"))
    assert substitute_for(seed, at(SATURDAY, 10), recorded) == slot(SATURDAY, 0)


def test_only_the_first_back_up_now_takes_its_place(seed: Policy) -> None:
    recorded = history(*BEFORE, (SATURDAY, 0, "failed"))
    assert substitute_for(seed, at(SATURDAY, 10), recorded, [at(SATURDAY, 9)]) is None
    # The backup itself may be among the on-demand times given.
    assert substitute_for(seed, at(SATURDAY, 10), recorded, [at(SATURDAY, 10)]) is not None


def test_not_after_the_next_scheduled_run(seed: Policy) -> None:
    recorded = history(*BEFORE, (SATURDAY, 0, "failed"), (SATURDAY, 18, "succeeded"))
    assert substitute_for(seed, at(SATURDAY, 19), recorded) is None
    # Not even when the next run was not recorded (the agent was down): the schedule says.
    recorded = history(*BEFORE, (SATURDAY, 0, "failed"))
    assert substitute_for(seed, at(SATURDAY, 19), recorded) is None
    assert substitute_for(seed, at(SATURDAY, 18), recorded) is None


def test_the_most_recent_kept_slot_decides(seed: Policy) -> None:
    # Saturday 18:00 (also kept four weeks) failed too: Back Up Now replaces that one.
    recorded = history(*BEFORE, (SATURDAY, 0, "failed"), (SATURDAY, 18, "failed"))
    assert substitute_for(seed, at(SATURDAY, 19), recorded) == slot(SATURDAY, 18)


def test_a_failed_daily_only_backup_is_not_replaced(seed: Policy) -> None:
    recorded = history((FRIDAY, 0, "succeeded"), (FRIDAY, 18, "failed"))
    assert substitute_for(seed, at(FRIDAY, 20), recorded) is None
    point = PointFacts(at(FRIDAY, 20), "on-demand")
    assert rules_matching(point, seed) == ["daily"]


def test_a_failed_last_saturday_of_march_is_replaced_for_ten_years(seed: Policy) -> None:
    last_saturday = date(2027, 3, 27)
    recorded = history((last_saturday, 0, "failed"))
    replaced = substitute_for(seed, at(last_saturday, 8, 30), recorded)
    assert replaced == slot(last_saturday, 0)
    point = PointFacts(at(last_saturday, 8, 30), "on-demand", substitutes=replaced)
    assert rules_matching(point, seed) == ["daily", "weekly", "monthly", "yearly"]
    assert expiry(point, seed) == at(date(2037, 3, 27), 8, 30)


def test_a_substitute_with_retain_until_keeps_the_later_of_the_two(seed: Policy) -> None:
    replaced = slot(SATURDAY, 0)
    short = PointFacts(
        at(SATURDAY, 10), "on-demand", substitutes=replaced, retain_until=date(2027, 1, 15)
    )
    assert rules_matching(short, seed) == ["daily", "weekly", "retain-until"]
    assert expiry(short, seed) == at(date(2027, 2, 6), 10)
    long = PointFacts(
        at(SATURDAY, 10), "on-demand", substitutes=replaced, retain_until=date(2027, 12, 31)
    )
    assert expiry(long, seed) == at(date(2028, 1, 1), 0)


WEEKLY = """
[schedule]
frequency = "weekly"
times = ["21:00"]
days = ["sun"]
[retention.weekly]
days_of_week = ["sun"]
weeks = 4
"""


def test_weekly_schedule_back_up_now_after_a_failed_sunday(build: Build) -> None:
    policy = build(WEEKLY)
    sunday = date(2027, 1, 10)
    recorded = [SlotOutcome(Slot(datetime(2027, 1, 10, 21, 0), "Europe/Berlin"), "failed")]
    monday = at(sunday + timedelta(days=1), 9)
    replaced = substitute_for(policy, monday, recorded)
    assert replaced is not None
    point = PointFacts(monday, "on-demand", substitutes=replaced)
    assert rules_matching(point, policy) == ["weekly"]
    assert expiry(point, policy) == monday + timedelta(weeks=4)
    # A week later the next Sunday's run has come: a backup then is kept one day.
    later = at(sunday + timedelta(days=8), 9)
    assert substitute_for(policy, later, recorded) is None
    assert expiry(PointFacts(later, "on-demand"), policy) == later + timedelta(days=1)


def test_simulated_failure_and_back_up_now(seed: Policy) -> None:
    result = simulate(
        seed,
        at(date(2027, 1, 4), 0),
        at(date(2027, 1, 20), 12),
        fail={at(SATURDAY, 0)},
        on_demand=[(at(SATURDAY, 10), None), (at(SATURDAY, 11), None)],
    )
    assert result.failed == 1
    by_time = {p.time.astimezone(UTC): p for p in result.points}
    assert at(SATURDAY, 0).astimezone(UTC) not in by_time
    first = by_time[at(SATURDAY, 10).astimezone(UTC)]
    assert first.trigger == "on-demand"
    assert first.substitutes == slot(SATURDAY, 0)
    assert first.rules == ("weekly",)  # its 7 daily days are over on the 20th
    assert first.expires == at(date(2027, 2, 6), 10)
    second = by_time.get(at(SATURDAY, 11).astimezone(UTC))
    assert second is None  # kept as daily: 7 days, gone by the 20th
