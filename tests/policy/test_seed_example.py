"""The seed's example, simulated over 11 years, against sets derived here by calendar reasoning.

Daily at 00:00 and 18:00 kept 7 days; Saturday's kept 4 weeks; the last Saturday of each month's
kept 12 months; the last Saturday of March's kept 10 years; Europe/Berlin. Neither 00:00 nor
18:00 is ever skipped or repeated in Berlin (its clocks change at 02:00/03:00), so wall-clock
arithmetic on naive local times is exact here, and that is what the expectations use.
"""

from __future__ import annotations

import bisect
import calendar
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from cairn.policy import PointFacts, Policy, Slot, expiry, parse_policy, rules_matching, simulate
from cairn.policy.simulation import SimulationResult

from .conftest import SEED_POLICY

BERLIN = ZoneInfo("Europe/Berlin")
FROM = datetime(2026, 12, 7, 0, 0)  # a Monday: the first run is the 00:00 one of that day
UNTIL = datetime(2037, 12, 7, 12, 0)  # 11 years later, a Monday, between the day's two runs
TIMES = (time(0, 0), time(18, 0))
SATURDAY = 5


def last_saturday(year: int, month: int) -> date:
    weeks = calendar.monthcalendar(year, month)
    day = weeks[-1][SATURDAY] or weeks[-2][SATURDAY]
    return date(year, month, day)


def keep_until(local: datetime) -> datetime:
    """The seed's rules, by hand: the longest of the durations of the rules matching the date."""
    day = local.date()
    ends = [local + timedelta(days=7)]
    if day.weekday() == SATURDAY:
        ends.append(local + timedelta(weeks=4))
    if day == last_saturday(day.year, day.month):
        # Last Saturdays fall on the 22nd to the 31st; the same day 12 months on exists because
        # it is the same month of the next year.
        ends.append(local.replace(year=local.year + 1))
        if day.month == 3:
            ends.append(local.replace(year=local.year + 10))
    return max(ends)


def all_slots() -> list[datetime]:
    slots = []
    day = FROM.date()
    while day <= UNTIL.date():
        slots += [datetime.combine(day, t) for t in TIMES if datetime.combine(day, t) <= UNTIL]
        day += timedelta(days=1)
    return slots


@pytest.fixture(scope="module")
def policy() -> Policy:
    return parse_policy(SEED_POLICY, default_timezone="UTC", today=date(2026, 12, 7))


@pytest.fixture(scope="module")
def result(policy: Policy) -> SimulationResult:
    return simulate(policy, FROM.replace(tzinfo=BERLIN), UNTIL.replace(tzinfo=BERLIN))


def test_eleven_years_keep_exactly_the_expected_points(result: SimulationResult) -> None:
    daily = {
        datetime.combine(FROM.date() + timedelta(days=n), t)
        for n in range((UNTIL.date() - FROM.date()).days + 1)
        for t in TIMES
    }
    daily = {s for s in daily if s <= UNTIL < s + timedelta(days=7)}
    saturdays = {s for s in all_slots() if s.weekday() == SATURDAY}
    weekly = {s for s in saturdays if s + timedelta(weeks=4) > UNTIL}
    monthly = {
        datetime.combine(last_saturday(y, m), t)
        for y in range(2026, 2038)
        for m in range(1, 13)
        for t in TIMES
    }
    monthly = {s for s in monthly if FROM <= s <= UNTIL < s.replace(year=s.year + 1)}
    yearly = {datetime.combine(last_saturday(y, 3), t) for y in range(2027, 2038) for t in TIMES}
    yearly = {s for s in yearly if s <= UNTIL < s.replace(year=s.year + 10)}

    # The calendar, written out: what the reasoning above must have found.
    assert sorted({s.date() for s in yearly}) == [
        date(2028, 3, 25), date(2029, 3, 31), date(2030, 3, 30), date(2031, 3, 29),
        date(2032, 3, 27), date(2033, 3, 26), date(2034, 3, 25), date(2035, 3, 31),
        date(2036, 3, 29), date(2037, 3, 28),
    ]  # fmt: skip
    assert sorted({s.date() for s in monthly}) == [
        date(2036, 12, 27), date(2037, 1, 31), date(2037, 2, 28), date(2037, 3, 28),
        date(2037, 4, 25), date(2037, 5, 30), date(2037, 6, 27), date(2037, 7, 25),
        date(2037, 8, 29), date(2037, 9, 26), date(2037, 10, 31), date(2037, 11, 28),
    ]  # fmt: skip
    assert sorted({s.date() for s in weekly}) == [
        date(2037, 11, 14),
        date(2037, 11, 21),
        date(2037, 11, 28),
        date(2037, 12, 5),
    ]
    assert min(daily) == datetime(2037, 11, 30, 18, 0)
    assert max(daily) == datetime(2037, 12, 7, 0, 0)
    assert len(daily) == 14

    expected = daily | weekly | monthly | yearly
    got = {p.time.astimezone(BERLIN).replace(tzinfo=None) for p in result.points}
    assert got == expected
    assert result.count == len(expected) == 60
    assert all(p.trigger == "scheduled" for p in result.points)


def test_every_kept_point_expires_when_the_rules_say(result: SimulationResult) -> None:
    for point in result.points:
        local = point.time.astimezone(BERLIN).replace(tzinfo=None)
        assert point.expires == keep_until(local).replace(tzinfo=BERLIN)
        assert point.expires.utcoffset() == keep_until(local).replace(tzinfo=BERLIN).utcoffset()


def test_the_rules_shown_are_the_ones_still_keeping_each_point(result: SimulationResult) -> None:
    rules = {p.time.astimezone(BERLIN).replace(tzinfo=None): p.rules for p in result.points}
    assert rules[datetime(2028, 3, 25, 0, 0)] == ("yearly",)
    assert rules[datetime(2037, 3, 28, 18, 0)] == ("monthly", "yearly")
    assert rules[datetime(2037, 11, 28, 0, 0)] == ("weekly", "monthly")
    assert rules[datetime(2037, 12, 5, 18, 0)] == ("daily", "weekly")
    assert rules[datetime(2037, 12, 6, 0, 0)] == ("daily",)


def test_peak_count_over_eleven_years(result: SimulationResult) -> None:
    # Independently: every slot's expiry by hand, then the most alive at any backup.
    slots = all_slots()
    ends = sorted(keep_until(s) for s in slots)
    peak, peak_at = 0, None
    for taken, s in enumerate(slots, start=1):
        alive = taken - bisect.bisect_right(ends, s)
        if alive > peak:
            peak, peak_at = alive, s
    assert result.peak == peak
    assert result.peak_at == peak_at.replace(tzinfo=BERLIN)  # type: ignore[union-attr]
    assert result.runs == len(slots) == 8037
    assert result.failed == 0


def test_every_backup_is_kept_seven_days(seed: Policy) -> None:
    tuesday = PointFacts(
        datetime(2027, 1, 5, 18, 0, tzinfo=BERLIN),
        "scheduled",
        slot=Slot(datetime(2027, 1, 5, 18, 0), "Europe/Berlin"),
    )
    assert rules_matching(tuesday, seed) == ["daily"]
    assert expiry(tuesday, seed) == datetime(2027, 1, 12, 18, 0, tzinfo=BERLIN)


def test_saturdays_are_kept_four_weeks(seed: Policy) -> None:
    for t in TIMES:
        slot = Slot(datetime.combine(date(2027, 1, 9), t), "Europe/Berlin")
        point = PointFacts(slot.instant(), "scheduled", slot=slot)
        assert rules_matching(point, seed) == ["daily", "weekly"]
        assert expiry(point, seed) == datetime.combine(date(2027, 2, 6), t, BERLIN)


def test_last_saturday_of_each_month_is_kept_twelve_months(seed: Policy) -> None:
    slot = Slot(datetime(2027, 1, 30, 18, 0), "Europe/Berlin")
    point = PointFacts(slot.instant(), "scheduled", slot=slot)
    assert rules_matching(point, seed) == ["daily", "weekly", "monthly"]
    assert expiry(point, seed) == datetime(2028, 1, 30, 18, 0, tzinfo=BERLIN)


def test_last_saturday_of_march_is_kept_ten_years(seed: Policy) -> None:
    slot = Slot(datetime(2027, 3, 27, 0, 0), "Europe/Berlin")
    point = PointFacts(slot.instant(), "scheduled", slot=slot)
    assert rules_matching(point, seed) == ["daily", "weekly", "monthly", "yearly"]
    assert expiry(point, seed) == datetime(2037, 3, 27, 0, 0, tzinfo=BERLIN)


def test_a_saturday_that_is_not_the_last_is_not_kept_a_month(seed: Policy) -> None:
    slot = Slot(datetime(2027, 3, 20, 0, 0), "Europe/Berlin")
    point = PointFacts(slot.instant(), "scheduled", slot=slot)
    assert rules_matching(point, seed) == ["daily", "weekly"]
