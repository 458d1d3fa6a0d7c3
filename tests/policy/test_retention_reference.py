"""The retention engine against a plain reference written here from the policy file's words.

The reference reads the same TOML-shaped dict the policy is built from, matches days by counting
on the calendar, adds months by counting months and then stepping the day back until the date
exists, and finds instants by scanning the zone's wall clock (`reference_resolve`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.policy import PointFacts, Slot, alive, expiry, policy_from_dict, rules_matching

from .conftest import reference_resolve

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
ORDINALS = ["first", "second", "third", "fourth", "fifth"]
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]
Spec = dict[str, Any]

# -- the reference ---------------------------------------------------------------------------


def ref_is_last_day(day: date) -> bool:
    return (day + timedelta(days=1)).month != day.month


def ref_days_match(rule: Spec, day: date) -> bool:
    if "days_of_month" in rule:
        return day.day in rule["days_of_month"] or (
            "last" in rule["days_of_month"] and ref_is_last_day(day)
        )
    if WEEKDAYS[day.weekday()] not in rule["days_of_week"]:
        return False
    same_weekday_so_far = sum(
        1 for d in range(1, day.day + 1) if date(day.year, day.month, d).weekday() == day.weekday()
    )
    is_last = (day + timedelta(days=7)).month != day.month
    weeks = rule["weeks_of_month"]
    return ORDINALS[same_weekday_so_far - 1] in weeks or ("last" in weeks and is_last)


def ref_add_months(local: datetime, months: int) -> datetime:
    year, month = local.year, local.month
    for _ in range(months):
        month += 1
        if month == 13:
            year, month = year + 1, 1
    day = local.day
    while True:
        try:
            return local.replace(year=year, month=month, day=day)
        except ValueError:
            day -= 1


def ref_matching(spec: Spec, day: date) -> list[tuple[str, int, str]]:
    """(rule name, amount, unit) for each rule matching the date."""
    retention = spec["retention"]
    found = []
    if "daily" in retention:
        found.append(("daily", retention["daily"]["days"], "days"))
    weekly = retention.get("weekly")
    # Under a weekly schedule, the weekly rule's days default to the scheduled days.
    weekly_days = weekly and (weekly.get("days_of_week") or spec["schedule"]["days"])
    if weekly and WEEKDAYS[day.weekday()] in weekly_days:
        found.append(("weekly", weekly["weeks"] * 7, "days"))
    monthly = retention.get("monthly")
    if monthly and ref_days_match(monthly, day):
        found.append(("monthly", monthly["months"], "months"))
    yearly = retention.get("yearly")
    if yearly and MONTHS[day.month - 1] in yearly["months_of_year"] and ref_days_match(yearly, day):
        found.append(("yearly", yearly["years"] * 12, "months"))
    return found


def ref_plus(local: datetime, amount: int, unit: str) -> datetime:
    return local + timedelta(days=amount) if unit == "days" else ref_add_months(local, amount)


def ref_expiry(spec: Spec, facts: PointFacts) -> tuple[list[str], datetime]:
    zone = ZoneInfo(spec["policy"]["timezone"])
    if facts.slot is not None:
        rules = ref_matching(spec, facts.slot.local.date())
        end = max(ref_plus(facts.slot.local, amount, unit) for _, amount, unit in rules)
        return [name for name, _, _ in rules], reference_resolve(end, zone)
    own = facts.time.astimezone(zone).replace(tzinfo=None)
    if facts.retain_until is not None:
        midnight = datetime.combine(facts.retain_until + timedelta(days=1), time(0, 0))
        return ["retain-until"], reference_resolve(midnight, zone)
    if spec["schedule"]["frequency"] == "daily":
        days = spec["retention"]["daily"]["days"]
        return ["daily"], reference_resolve(own + timedelta(days=days), zone)
    return [], reference_resolve(own + timedelta(days=1), zone)


# -- policies and points ---------------------------------------------------------------------


def day_selection(weekdays: list[str]) -> st.SearchStrategy[Spec]:
    by_day = st.lists(
        st.one_of(st.integers(1, 28), st.just("last")), min_size=1, max_size=4, unique=True
    ).map(lambda days: {"days_of_month": days})
    by_week = st.builds(
        lambda weeks, days: {"weeks_of_month": weeks, "days_of_week": days},
        st.lists(st.sampled_from(["first", "second", "third", "fourth", "last"]), min_size=1),
        st.lists(st.sampled_from(weekdays), min_size=1, max_size=3, unique=True),
    )
    return st.one_of(by_day, by_week) if len(weekdays) == 7 else by_week


@st.composite
def policies(draw: st.DrawFn) -> Spec:
    times = draw(
        st.lists(
            st.sampled_from(["00:00", "01:30", "02:00", "02:30", "02:45", "12:00", "18:00"]),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    retention: Spec = {}
    if draw(st.booleans()):
        schedule: Spec = {"frequency": "daily", "times": times}
        weekdays = WEEKDAYS
        retention["daily"] = {"days": draw(st.integers(7, 60))}
        if draw(st.booleans()):
            days = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=3, unique=True))
            retention["weekly"] = {"days_of_week": days, "weeks": draw(st.integers(4, 12))}
    else:
        weekdays = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=3, unique=True))
        every = draw(st.integers(1, 4))
        schedule = {"frequency": "weekly", "times": times, "days": weekdays, "every_weeks": every}
        retention["weekly"] = {"weeks": draw(st.integers(4, 12))}  # days: the scheduled ones
    if draw(st.booleans()):
        monthly = draw(day_selection(weekdays))
        retention["monthly"] = monthly | {"months": draw(st.integers(3, 18))}
    if draw(st.booleans()):
        months = draw(st.lists(st.sampled_from(MONTHS), min_size=1, max_size=3, unique=True))
        selection = draw(day_selection(weekdays))
        years = draw(st.integers(1, 4))
        retention["yearly"] = {"months_of_year": months} | selection | {"years": years}
    zone = draw(st.sampled_from(ZONES))
    policy = {"items": ["/srv"], "timezone": zone, "start": "2020-01-06"}
    return {"policy": policy, "schedule": schedule, "retention": retention}


@st.composite
def points(draw: st.DrawFn, spec: Spec) -> PointFacts:
    zone = spec["policy"]["timezone"]
    schedule = spec["schedule"]
    if draw(st.booleans()):
        day = draw(st.dates(date(2000, 1, 1), date(2090, 12, 31)))
        if schedule["frequency"] == "weekly":
            while WEEKDAYS[day.weekday()] not in schedule["days"]:
                day += timedelta(days=1)
        hour, minute = map(int, draw(st.sampled_from(schedule["times"])).split(":"))
        slot = Slot(datetime.combine(day, time(hour, minute)), zone)
        return PointFacts(slot.instant(), draw(st.sampled_from(["scheduled", "late"])), slot=slot)
    moment = draw(st.datetimes(datetime(2000, 1, 1), datetime(2090, 1, 1), timezones=st.just(UTC)))
    moment = moment.replace(second=0, microsecond=0)
    retain_until = draw(st.none() | st.dates(date(2000, 1, 1), date(2095, 1, 1)))
    return PointFacts(moment, "on-demand", retain_until=retain_until)


def build(spec: Spec) -> Any:
    return policy_from_dict(spec, default_timezone="UTC", today=date(2020, 1, 6))


@settings(max_examples=300, deadline=None)
@given(data=st.data(), spec=policies())
def test_expiry_and_rules_match_the_reference(data: st.DataObject, spec: Spec) -> None:
    policy = build(spec)
    facts = data.draw(points(spec))
    names, end = ref_expiry(spec, facts)
    assert rules_matching(facts, policy) == names
    assert expiry(facts, policy).astimezone(UTC) == end


@settings(max_examples=150, deadline=None)
@given(data=st.data(), spec=policies())
def test_alive_matches_the_reference(data: st.DataObject, spec: Spec) -> None:
    policy = build(spec)
    listed = data.draw(st.lists(points(spec), min_size=0, max_size=8))
    now = data.draw(
        st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC))
    )
    newest = max((p.time.astimezone(UTC) for p in listed), default=None)
    expected = [
        p
        for p in listed
        if p.time.astimezone(UTC) == newest
        or p.time.astimezone(UTC) > now
        or ref_expiry(spec, p)[1] > now
    ]
    assert alive(listed, policy, now) == expected


@settings(max_examples=200, deadline=None)
@given(spec=policies(), year=st.integers(2000, 2090), month=st.integers(1, 12))
def test_rules_match_the_reference_on_every_day_of_a_month(
    spec: Spec, year: int, month: int
) -> None:
    policy = build(spec)
    zone = spec["policy"]["timezone"]
    hour, minute = map(int, spec["schedule"]["times"][0].split(":"))
    day = date(year, month, 1)
    while day.month == month:
        if (
            spec["schedule"]["frequency"] == "daily"
            or WEEKDAYS[day.weekday()] in spec["schedule"]["days"]
        ):
            slot = Slot(datetime.combine(day, time(hour, minute)), zone)
            facts = PointFacts(slot.instant(), "scheduled", slot=slot)
            expected = [name for name, _, _ in ref_matching(spec, day)]
            assert rules_matching(facts, policy) == expected, day
        day += timedelta(days=1)
