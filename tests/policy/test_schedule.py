"""Run times: daily and weekly schedules, every N weeks, and DST gaps and folds in two zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.policy import Slot, next_runs, runs_after, runs_between, runs_on

from .conftest import Build, policy_with, reference_resolve

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")

DAILY_0230 = """
[schedule]
frequency = "daily"
times = ["{times}"]
[retention.daily]
days = 7
"""


def daily(build: Build, *times: str, timezone: str = "Europe/Berlin") -> object:
    return build(DAILY_0230.replace('"{times}"', ", ".join(f'"{t}"' for t in times)), timezone)


def test_daily_runs_at_each_time_in_the_zone(build: Build) -> None:
    policy = build(DAILY_0230.replace("{times}", "18:00"))
    runs = next_runs(policy, datetime(2026, 12, 7, 12, 0, tzinfo=BERLIN), 3)
    assert [r.isoformat() for r in runs] == [
        "2026-12-07T18:00:00+01:00",
        "2026-12-08T18:00:00+01:00",
        "2026-12-09T18:00:00+01:00",
    ]
    assert all(r.tzinfo == BERLIN for r in runs)


def test_next_runs_are_strictly_after(build: Build) -> None:
    policy = build(DAILY_0230.replace("{times}", "18:00"))
    at_run = datetime(2026, 12, 7, 18, 0, tzinfo=BERLIN)
    assert next_runs(policy, at_run, 1) == [at_run + timedelta(days=1)]
    assert next_runs(policy, at_run.astimezone(UTC), 1) == [at_run + timedelta(days=1)]
    assert next_runs(policy, at_run, 0) == []


def test_no_run_before_the_start_date(build: Build) -> None:
    policy = build(DAILY_0230.replace("{times}", "18:00"), start="2027-01-04")
    runs = next_runs(policy, datetime(2026, 12, 7, tzinfo=BERLIN), 1)
    assert runs == [datetime(2027, 1, 4, 18, 0, tzinfo=BERLIN)]


def test_every_run_names_its_slot(build: Build) -> None:
    policy = build(DAILY_0230.replace('"{times}"', '"00:00", "18:00"'))
    runs = runs_after(policy, datetime(2026, 12, 7, 12, 0, tzinfo=BERLIN), 2)
    assert [str(r.slot) for r in runs] == [
        "2026-12-07T18:00[Europe/Berlin]",
        "2026-12-08T00:00[Europe/Berlin]",
    ]
    assert runs[0].slot.key == "2026-12-07T18:00"
    assert Slot.parse(str(runs[0].slot)) == runs[0].slot


def test_slot_parse_refuses_what_it_does_not_write() -> None:
    for text in ("2026-12-07T18:00", "2026-12-07 18:00[UTC]", "2026-12-07T18:00:00[UTC]"):
        with pytest.raises(ValueError, match="not a slot"):
            Slot.parse(text)
    with pytest.raises(ValueError, match="IANA time zone"):
        Slot.parse("2026-12-07T18:00[Mars/Olympus]")


WEEKLY = """
[schedule]
frequency = "weekly"
times = ["21:00"]
days = ["sun", "wed"]
every_weeks = {every}
[retention.weekly]
days_of_week = ["sun", "wed"]
weeks = 4
"""


def test_weekly_runs_on_its_days(build: Build) -> None:
    policy = build(WEEKLY.replace("{every}", "1"))
    runs = next_runs(policy, datetime(2026, 12, 7, tzinfo=BERLIN), 4)
    assert [r.date() for r in runs] == [
        date(2026, 12, 9),
        date(2026, 12, 13),
        date(2026, 12, 16),
        date(2026, 12, 20),
    ]


def test_every_two_weeks_counts_from_the_week_containing_start(build: Build) -> None:
    # start is Thursday 2026-12-10: its week runs Monday 7th to Sunday 13th; Wednesday the 9th
    # is in that week but before the start, so the first run is Sunday the 13th.
    policy = build(WEEKLY.replace("{every}", "2"), start="2026-12-10")
    runs = next_runs(policy, datetime(2026, 12, 1, tzinfo=BERLIN), 5)
    assert [r.date() for r in runs] == [
        date(2026, 12, 13),
        date(2026, 12, 23),
        date(2026, 12, 27),
        date(2027, 1, 6),
        date(2027, 1, 10),
    ]
    assert runs_on(policy, date(2026, 12, 16)) is False
    assert runs_on(policy, date(2026, 12, 9)) is False


def test_every_four_weeks(build: Build) -> None:
    policy = build(WEEKLY.replace("{every}", "4"))
    runs = next_runs(policy, datetime(2026, 12, 7, tzinfo=BERLIN), 4)
    assert [r.date() for r in runs] == [
        date(2026, 12, 9),
        date(2026, 12, 13),
        date(2027, 1, 6),
        date(2027, 1, 10),
    ]


def test_runs_between_is_half_open(build: Build) -> None:
    policy = build(DAILY_0230.replace('"{times}"', '"00:00", "18:00"'))
    start = datetime(2026, 12, 7, 0, 0, tzinfo=BERLIN)
    runs = runs_between(policy, start, start + timedelta(days=1))
    assert [r.time for r in runs] == [start, start + timedelta(hours=18)]


# DST, Europe/Berlin: clocks go forward 2027-03-28 02:00 -> 03:00, back 2027-10-31 03:00 -> 02:00.


def test_berlin_a_skipped_time_runs_at_the_first_valid_instant_after_it(build: Build) -> None:
    policy = build(DAILY_0230.replace("{times}", "02:30"))
    runs = runs_after(policy, datetime(2027, 3, 27, 12, 0, tzinfo=BERLIN), 2)
    assert runs[0].time.isoformat() == "2027-03-28T03:00:00+02:00"
    assert runs[0].time == datetime(2027, 3, 28, 1, 0, tzinfo=UTC)
    assert str(runs[0].slot) == "2027-03-28T02:30[Europe/Berlin]"
    assert runs[1].time.isoformat() == "2027-03-29T02:30:00+02:00"


def test_berlin_a_repeated_time_runs_once_at_its_first_occurrence(build: Build) -> None:
    policy = build(DAILY_0230.replace("{times}", "02:30"))
    day = runs_between(
        policy,
        datetime(2027, 10, 31, 0, 0, tzinfo=BERLIN),
        datetime(2027, 11, 1, 0, 0, tzinfo=BERLIN),
    )
    assert [r.time.isoformat() for r in day] == ["2027-10-31T02:30:00+02:00"]
    # (compare in UTC: a time in the repeated hour never == a datetime in another zone)
    assert day[0].time.astimezone(UTC) == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)


def test_berlin_two_times_in_one_gap_make_one_run(build: Build) -> None:
    policy = build(DAILY_0230.replace('"{times}"', '"02:00", "02:30", "12:00"'))
    day = runs_between(
        policy,
        datetime(2027, 3, 28, 0, 0, tzinfo=BERLIN),
        datetime(2027, 3, 29, 0, 0, tzinfo=BERLIN),
    )
    assert [(r.time.isoformat(), r.slot.key) for r in day] == [
        ("2027-03-28T03:00:00+02:00", "2027-03-28T02:00"),
        ("2027-03-28T12:00:00+02:00", "2027-03-28T12:00"),
    ]


# DST, America/New_York: forward 2027-03-14 02:00 -> 03:00, back 2027-11-07 02:00 -> 01:00.


def test_new_york_a_skipped_time_runs_at_the_first_valid_instant_after_it(build: Build) -> None:
    policy = build(DAILY_0230.replace("{times}", "02:30"), timezone="America/New_York")
    run = runs_after(policy, datetime(2027, 3, 13, 12, 0, tzinfo=NEW_YORK), 1)[0]
    assert run.time.isoformat() == "2027-03-14T03:00:00-04:00"
    assert run.time == datetime(2027, 3, 14, 7, 0, tzinfo=UTC)
    assert str(run.slot) == "2027-03-14T02:30[America/New_York]"


def test_new_york_a_repeated_time_runs_once_at_its_first_occurrence(build: Build) -> None:
    policy = build(DAILY_0230.replace("{times}", "01:30"), timezone="America/New_York")
    runs = next_runs(policy, datetime(2027, 11, 6, 0, 0, tzinfo=NEW_YORK), 3)
    assert [r.isoformat() for r in runs] == [
        "2027-11-06T01:30:00-04:00",
        "2027-11-07T01:30:00-04:00",
        "2027-11-08T01:30:00-05:00",
    ]
    assert runs[2].astimezone(UTC) - runs[1].astimezone(UTC) == timedelta(hours=25)
    # Asking from between the two occurrences of 01:30 finds the next day's run, not a repeat.
    between = datetime(2027, 11, 7, 6, 0, tzinfo=UTC)  # 01:00 EST, after 01:30 EDT
    assert next_runs(policy, between, 1)[0].isoformat() == "2027-11-08T01:30:00-05:00"


# A plain reference: every scheduled local date and time, resolved by scanning the zone's wall
# clock minute by minute, sorted, equal instants kept once.


def reference_runs(
    start: date,
    zone: ZoneInfo,
    times: list[time],
    days: list[int] | None,
    every: int,
    after: datetime,
    count: int,
) -> list[tuple[datetime, datetime]]:
    found: list[tuple[datetime, datetime]] = []
    first_monday = start - timedelta(days=start.weekday())
    day = max(start, after.astimezone(zone).date() - timedelta(days=2))
    while len(found) < count + 3:
        mondays_since = (day - first_monday).days // 7  # whole weeks since start's Monday
        if days is None or (day.weekday() in days and mondays_since % every == 0):
            for t in sorted(times):
                local = datetime.combine(day, t)
                moment = reference_resolve(local, zone)
                if all(moment != m for m, _ in found) and moment > after:
                    found.append((moment, local))
        day += timedelta(days=1)
    return sorted(found)[:count]


ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]
WEEKDAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
# Times around the usual transition hours, to hit gaps and folds often.
TIMES = st.times(max_value=time(23, 59)).map(lambda t: t.replace(second=0, microsecond=0))
TRANSITION_DAYS = [
    date(2027, 3, 14),  # New York forward
    date(2027, 3, 28),  # Berlin forward
    date(2027, 4, 4),  # Lord Howe back
    date(2027, 10, 3),  # Lord Howe forward
    date(2027, 10, 31),  # Berlin back
    date(2027, 11, 7),  # New York back
]
NEAR_TRANSITIONS = st.sampled_from(
    [time(0, 0), time(0, 30), time(1, 0), time(1, 30), time(2, 0), time(2, 15), time(2, 30)]
)


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    times=st.lists(st.one_of(TIMES, NEAR_TRANSITIONS), min_size=1, max_size=3, unique=True),
    weekly=st.one_of(
        st.none(),
        st.tuples(
            st.lists(st.integers(0, 6), min_size=1, max_size=7, unique=True), st.integers(1, 4)
        ),
    ),
    near=st.one_of(
        st.dates(date(2020, 1, 1), date(2035, 12, 31)),
        # a few days before a DST change in one of the zones
        st.sampled_from(TRANSITION_DAYS).flatmap(
            lambda d: st.integers(0, 3).map(lambda n: d - timedelta(days=n))
        ),
    ),
    start_days_before=st.integers(-10, 400),
    after_minutes=st.integers(0, 24 * 60 - 1),
    count=st.integers(1, 6),
)
def test_runs_match_a_plain_reference(
    zone: str,
    times: list[time],
    weekly: tuple[list[int], int] | None,
    near: date,
    start_days_before: int,
    after_minutes: int,
    count: int,
) -> None:
    time_list = ", ".join(f'"{t:%H:%M}"' for t in times)
    if weekly is None:
        body = (
            f'[schedule]\nfrequency = "daily"\ntimes = [{time_list}]\n[retention.daily]\ndays = 7\n'
        )
    else:
        names = ", ".join(f'"{WEEKDAY_NAMES[d]}"' for d in weekly[0])
        body = (
            f'[schedule]\nfrequency = "weekly"\ntimes = [{time_list}]\ndays = [{names}]\n'
            f"every_weeks = {weekly[1]}\n[retention.weekly]\ndays_of_week = [{names}]\nweeks = 4\n"
        )
    start = near - timedelta(days=start_days_before)
    policy = policy_with(body, timezone=zone, start=start.isoformat())
    tz = ZoneInfo(zone)
    after = datetime.combine(near, time(0, 0), tz) + timedelta(minutes=after_minutes)
    expected = reference_runs(
        start, tz, times, weekly[0] if weekly else None, weekly[1] if weekly else 1, after, count
    )
    runs = runs_after(policy, after, count)
    assert [(r.time.astimezone(UTC), r.slot.local) for r in runs] == expected
    assert all(r.time.tzinfo == tz for r in runs)
