"""Expiry of recovery points: month ends, DST, on-demand defaults, retain-until, the newest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cairn.policy import (
    PointFacts,
    Policy,
    Slot,
    alive,
    expired,
    expiry,
    rules_keeping,
    rules_matching,
)

from .conftest import Build

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")

DAILY = """
[schedule]
frequency = "daily"
times = ["{time}"]
[retention.daily]
days = 7
"""

MONTH_ENDS = """
[schedule]
frequency = "daily"
times = ["12:00"]
[retention.daily]
days = 7
[retention.monthly]
days_of_month = ["last"]
months = 3
[retention.yearly]
months_of_year = ["feb"]
days_of_month = ["last"]
years = 1
"""

WEEKLY = """
[schedule]
frequency = "weekly"
times = ["21:00"]
days = ["{day}"]
[retention.weekly]
weeks = 4
"""


def scheduled(local: datetime, zone: str = "Europe/Berlin") -> PointFacts:
    slot = Slot(local, zone)
    return PointFacts(slot.instant(), "scheduled", slot=slot)


def on_demand(moment: datetime, retain_until: date | None = None) -> PointFacts:
    return PointFacts(moment, "on-demand", retain_until=retain_until)


def test_months_clamp_to_the_end_of_the_month(build: Build) -> None:
    policy = build(MONTH_ENDS)
    assert expiry(scheduled(datetime(2027, 1, 31, 12, 0)), policy) == datetime(
        2027, 4, 30, 12, 0, tzinfo=BERLIN
    )
    assert expiry(scheduled(datetime(2026, 11, 30, 12, 0)), policy) == datetime(
        2027, 2, 28, 12, 0, tzinfo=BERLIN
    )


def test_a_leap_day_kept_one_year_expires_on_the_28th(build: Build) -> None:
    policy = build(MONTH_ENDS)
    point = scheduled(datetime(2028, 2, 29, 12, 0))
    assert rules_matching(point, policy) == ["daily", "monthly", "yearly"]
    assert expiry(point, policy) == datetime(2029, 2, 28, 12, 0, tzinfo=BERLIN)


def test_seven_days_across_spring_forward_are_167_hours(build: Build) -> None:
    policy = build(DAILY.replace("{time}", "12:00"))
    point = scheduled(datetime(2027, 3, 22, 12, 0))
    end = expiry(point, policy)
    assert end.isoformat() == "2027-03-29T12:00:00+02:00"
    assert end.astimezone(UTC) - point.time.astimezone(UTC) == timedelta(hours=167)


def test_an_expiry_in_the_skipped_hour_is_the_instant_that_days_run_happens(build: Build) -> None:
    policy = build(DAILY.replace("{time}", "02:30"))
    point = scheduled(datetime(2027, 3, 21, 2, 30))
    end = expiry(point, policy)
    assert end.isoformat() == "2027-03-28T03:00:00+02:00"
    assert Slot(datetime(2027, 3, 28, 2, 30), "Europe/Berlin").instant() == end


def test_new_york_an_expiry_in_the_repeated_hour_is_its_first_occurrence(build: Build) -> None:
    policy = build(DAILY.replace("{time}", "01:30"), timezone="America/New_York")
    point = scheduled(datetime(2027, 10, 31, 1, 30), "America/New_York")
    end = expiry(point, policy)
    assert end.isoformat() == "2027-11-07T01:30:00-04:00"
    assert end.astimezone(UTC) == datetime(2027, 11, 7, 5, 30, tzinfo=UTC)


def test_a_policy_change_moves_the_expiry_of_recorded_points(build: Build, seed: Policy) -> None:
    saturday = scheduled(datetime(2027, 1, 9, 18, 0))
    assert expiry(saturday, seed) == datetime(2027, 2, 6, 18, 0, tzinfo=BERLIN)
    longer = build(
        DAILY.replace("{time}", "18:00") + '[retention.weekly]\ndays_of_week = ["sat"]\nweeks = 8\n'
    )
    assert expiry(saturday, longer) == datetime(2027, 3, 6, 18, 0, tzinfo=BERLIN)


def test_a_point_on_a_day_the_new_schedule_skips_keeps_the_base_rule(build: Build) -> None:
    # Recorded under a Sunday schedule; the policy now runs on Wednesdays.
    policy = build(WEEKLY.replace("{day}", "wed"))
    sunday = scheduled(datetime(2027, 1, 10, 21, 0))
    assert rules_matching(sunday, policy) == ["weekly"]
    assert expiry(sunday, policy) == datetime(2027, 2, 7, 21, 0, tzinfo=BERLIN)


def test_back_up_now_under_a_daily_schedule_is_kept_as_daily(seed: Policy) -> None:
    point = on_demand(datetime(2027, 1, 5, 10, 17, tzinfo=BERLIN))
    assert rules_matching(point, seed) == ["daily"]
    assert expiry(point, seed) == datetime(2027, 1, 12, 10, 17, tzinfo=BERLIN)


def test_back_up_now_under_a_weekly_schedule_is_kept_one_day(build: Build) -> None:
    policy = build(WEEKLY.replace("{day}", "sun"))
    point = on_demand(datetime(2027, 1, 5, 10, 17, tzinfo=BERLIN))
    assert rules_matching(point, policy) == []
    assert expiry(point, policy) == datetime(2027, 1, 6, 10, 17, tzinfo=BERLIN)


def test_retain_until_keeps_through_the_end_of_that_date(seed: Policy) -> None:
    point = on_demand(datetime(2027, 1, 5, 10, 0, tzinfo=BERLIN), date(2027, 6, 30))
    assert rules_matching(point, seed) == ["retain-until"]
    end = expiry(point, seed)
    assert end.isoformat() == "2027-07-01T00:00:00+02:00"
    newer = on_demand(datetime(2027, 8, 1, tzinfo=BERLIN))
    last_second = datetime(2027, 6, 30, 23, 59, 59, tzinfo=BERLIN)
    assert alive([point, newer], seed, last_second) == [point, newer]
    assert alive([point, newer], seed, end) == [newer]


def test_retain_until_decides_even_when_shorter_than_daily(seed: Policy) -> None:
    point = on_demand(datetime(2027, 1, 5, 10, 0, tzinfo=BERLIN), date(2027, 1, 5))
    assert expiry(point, seed) == datetime(2027, 1, 6, 0, 0, tzinfo=BERLIN)


def test_retain_until_is_the_end_of_the_date_in_the_policys_zone(build: Build) -> None:
    policy = build(DAILY.replace("{time}", "21:00"), timezone="America/New_York")
    point = on_demand(datetime(2027, 3, 1, 12, 0, tzinfo=UTC), date(2027, 3, 13))
    # 2027-03-14 begins at midnight EST; the clocks go forward at 02:00 that day.
    assert expiry(point, policy).isoformat() == "2027-03-14T00:00:00-05:00"


def test_retain_until_where_midnight_does_not_exist(build: Build) -> None:
    # Chile moves its clocks forward at midnight: 2026-09-06 begins at 01:00.
    policy = build(DAILY.replace("{time}", "21:00"), timezone="America/Santiago")
    point = on_demand(datetime(2026, 9, 1, 12, 0, tzinfo=UTC), date(2026, 9, 5))
    assert expiry(point, policy).isoformat() == "2026-09-06T01:00:00-03:00"


def test_rules_keeping_names_only_the_rules_still_keeping_the_point(seed: Policy) -> None:
    point = scheduled(datetime(2027, 3, 27, 0, 0))
    at = datetime(2027, 4, 10, tzinfo=BERLIN)
    assert rules_keeping(point, seed, at) == ["weekly", "monthly", "yearly"]
    assert rules_keeping(point, seed, datetime(2030, 1, 1, tzinfo=BERLIN)) == ["yearly"]


def test_the_newest_point_never_expires_while_it_is_the_last_one(seed: Policy) -> None:
    only = scheduled(datetime(2027, 1, 5, 0, 0))
    years_later = datetime(2040, 1, 1, tzinfo=BERLIN)
    assert alive([only], seed, years_later) == [only]
    assert expired([only], seed, years_later) == []
    older = scheduled(datetime(2027, 1, 4, 18, 0))
    assert alive([older, only], seed, years_later) == [only]
    assert expired([older, only], seed, years_later) == [older]


def test_a_point_from_the_future_is_kept(seed: Policy) -> None:
    now = datetime(2027, 1, 20, tzinfo=BERLIN)
    old = scheduled(datetime(2027, 1, 5, 0, 0))
    ahead = scheduled(datetime(2027, 2, 1, 0, 0))
    newest_past = scheduled(datetime(2027, 1, 6, 0, 0))
    assert alive([old, newest_past, ahead], seed, now) == [ahead]


def test_alive_keeps_any_objects_through_a_facts_function(seed: Policy) -> None:
    @dataclass
    class Stored:
        id: str
        facts: PointFacts

    points = [
        Stored("a", scheduled(datetime(2027, 1, 1, 0, 0))),
        Stored("b", scheduled(datetime(2027, 1, 20, 0, 0))),
    ]
    now = datetime(2027, 1, 21, tzinfo=BERLIN)
    assert [p.id for p in alive(points, seed, now, lambda p: p.facts)] == ["b"]
    assert [p.id for p in expired(points, seed, now, lambda p: p.facts)] == ["a"]


def test_facts_read_from_a_stored_record() -> None:
    facts = PointFacts.from_record(
        datetime(2027, 1, 9, 10, 0, tzinfo=BERLIN),
        "on-demand",
        substitutes="2027-01-09T00:00[Europe/Berlin]",
        retain_until="2027-02-01",
    )
    assert facts.substitutes == Slot(datetime(2027, 1, 9, 0, 0), "Europe/Berlin")
    assert facts.retain_until == date(2027, 2, 1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"time": datetime(2027, 1, 1), "trigger": "on-demand"}, "timezone-aware"),
        ({"trigger": "hourly"}, "not a trigger"),
        ({"trigger": "scheduled"}, "records the slot"),
        ({"trigger": "late"}, "records the slot"),
        ({"trigger": "on-demand", "slot": Slot(datetime(2027, 1, 1), "UTC")}, "fills no slot"),
        (
            {
                "trigger": "scheduled",
                "slot": Slot(datetime(2027, 1, 1), "UTC"),
                "retain_until": date(2027, 2, 1),
            },
            "only an on-demand point",
        ),
    ],
)
def test_inconsistent_facts_are_refused(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"time": datetime(2027, 1, 1, tzinfo=UTC)} | kwargs
    with pytest.raises(ValueError, match=message):
        PointFacts(**arguments)  # type: ignore[arg-type]
