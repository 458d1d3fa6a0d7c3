"""Every limit is refused with exit 2 and a message naming the field, the value and the range."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from cairn.core.errors import EXIT_USAGE, UsageError
from cairn.policy import Policy, policy_from_dict

Data = dict[str, Any]


def seed_dict() -> Data:
    return {
        "policy": {"items": ["/srv/data"], "timezone": "Europe/Berlin", "start": "2026-12-07"},
        "schedule": {"frequency": "daily", "times": ["00:00", "18:00"]},
        "retention": {
            "daily": {"days": 7},
            "weekly": {"days_of_week": ["sat"], "weeks": 4},
            "monthly": {"weeks_of_month": ["last"], "days_of_week": ["sat"], "months": 12},
            "yearly": {
                "months_of_year": ["mar"],
                "weeks_of_month": ["last"],
                "days_of_week": ["sat"],
                "years": 10,
            },
        },
    }


def weekly_dict() -> Data:
    data = seed_dict()
    data["schedule"] = {"frequency": "weekly", "times": ["21:00"], "days": ["sun"]}
    data["retention"] = {"weekly": {"days_of_week": ["sun"], "weeks": 12}}
    return data


def build(data: Data) -> Policy:
    return policy_from_dict(data, default_timezone="UTC", today=date(2026, 12, 7))


def changed(base: Callable[[], Data], path: str, value: Any) -> Data:
    """`base()` with the value at the dotted `path` set (or removed, for `...`)."""
    data = base()
    *parents, key = path.split(".")
    table = data
    for name in parents:
        table = table.setdefault(name, {})
    if value is ...:
        del table[key]
    else:
        table[key] = value
    return data


RANGES = [
    ("schedule.times", [], "schedule.times: 0 times of day given; allowed: 1 to 3 times of day"),
    (
        "schedule.times",
        ["00:00", "06:00", "12:00", "18:00"],
        "schedule.times: 4 times of day given; allowed: 1 to 3 times of day",
    ),
    ("retention.daily.days", 6, "retention.daily.days: 6 is out of range; allowed: 7 to 9999 days"),
    (
        "retention.daily.days",
        10000,
        "retention.daily.days: 10000 is out of range; allowed: 7 to 9999 days",
    ),
    (
        "retention.weekly.weeks",
        3,
        "retention.weekly.weeks: 3 is out of range; allowed: 4 to 5163 weeks",
    ),
    (
        "retention.weekly.weeks",
        5164,
        "retention.weekly.weeks: 5164 is out of range; allowed: 4 to 5163 weeks",
    ),
    (
        "retention.monthly.months",
        2,
        "retention.monthly.months: 2 is out of range; allowed: 3 to 1188 months",
    ),
    (
        "retention.monthly.months",
        1189,
        "retention.monthly.months: 1189 is out of range; allowed: 3 to 1188 months",
    ),
    (
        "retention.yearly.years",
        0,
        "retention.yearly.years: 0 is out of range; allowed: 1 to 99 years",
    ),
    (
        "retention.yearly.years",
        100,
        "retention.yearly.years: 100 is out of range; allowed: 1 to 99 years",
    ),
]


@pytest.mark.parametrize(("path", "value", "message"), RANGES)
def test_a_value_outside_its_range_is_refused(path: str, value: Any, message: str) -> None:
    with pytest.raises(UsageError) as refused:
        build(changed(seed_dict, path, value))
    assert str(refused.value) == message
    assert refused.value.exit_code == EXIT_USAGE == 2


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("days_of_month", [0], 'days_of_month: 0 is out of range; allowed: 1 to 28 or "last"'),
        ("days_of_month", [29], 'days_of_month: 29 is out of range; allowed: 1 to 28 or "last"'),
        ("days_of_month", ["first"], "days_of_month: 'first' is not a day; allowed: 1 to 28"),
        (
            "weeks_of_month",
            ["fifth"],
            "weeks_of_month: 'fifth' is not allowed; allowed: first, second, third, fourth, last",
        ),
        (
            "days_of_week",
            ["saturday"],
            "days_of_week: 'saturday' is not allowed; allowed: mon, tue, wed, thu, fri, sat, sun",
        ),
    ],
)
def test_a_day_outside_the_month_is_refused(path: str, value: Any, message: str) -> None:
    data = seed_dict()
    monthly = data["retention"]["monthly"]
    if path == "days_of_month":
        monthly.pop("weeks_of_month")
        monthly.pop("days_of_week")
    monthly[path] = value
    with pytest.raises(UsageError, match="^retention.monthly." + message.replace("(", r"\(")):
        build(data)


@pytest.mark.parametrize(
    ("every", "message"),
    [
        (0, "schedule.every_weeks: 0 is out of range; allowed: 1 to 4 weeks"),
        (5, "schedule.every_weeks: 5 is out of range; allowed: 1 to 4 weeks"),
    ],
)
def test_every_weeks_outside_one_to_four_is_refused(every: int, message: str) -> None:
    with pytest.raises(UsageError) as refused:
        build(changed(weekly_dict, "schedule.every_weeks", every))
    assert str(refused.value) == message


def test_the_largest_values_are_accepted() -> None:
    data = seed_dict()
    data["schedule"]["times"] = ["12:00"]
    data["retention"] = {"daily": {"days": 9999}}
    assert build(data).retention.daily is not None
    for rule, key, top in (("weekly", "weeks", 5163), ("monthly", "months", 1188)):
        data = seed_dict()
        data["schedule"]["times"] = ["12:00"]
        del data["retention"]["yearly"]
        data["retention"] = {"daily": {"days": 7}, rule: seed_dict()["retention"][rule]}
        data["retention"][rule][key] = top
        build(data)
    build(changed(seed_dict, "retention.yearly.years", 99))
    build(changed(weekly_dict, "schedule.every_weeks", 4))
    build(changed(seed_dict, "schedule.times", ["00:00", "08:00", "16:00"]))


def test_more_than_9999_points_in_the_worst_case_is_refused_with_the_count() -> None:
    data = seed_dict()
    data["retention"] = {"daily": {"days": 5000}}
    with pytest.raises(UsageError) as refused:
        build(data)  # two times a day, kept 5000 days
    assert str(refused.value).startswith(
        "retention: this policy can keep up to 10000 recovery points alive at once (worst case); "
        "allowed: at most 9999"
    )
    data["retention"]["daily"]["days"] = 4999
    build(data)


def test_the_worst_case_counts_the_longer_rules_too() -> None:
    data = seed_dict()
    data["schedule"]["times"] = ["12:00"]
    data["retention"] = {
        "daily": {"days": 7},
        "monthly": {"days_of_month": [*range(1, 29), "last"], "months": 400},
    }
    with pytest.raises(UsageError, match="up to 11607 recovery points"):
        build(data)  # 7 + 29 days a month x 400 months


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            changed(seed_dict, "policy.initial_backup", "offline"),
            'policy.initial_backup: "offline" needs an [offline] table with staging = "PATH"',
        ),
        (
            changed(seed_dict, "policy.initial_backup", "disk"),
            "policy.initial_backup: 'disk' is not an initial backup type",
        ),
        (
            changed(seed_dict, "policy.timezone", "Europe/Berlinn"),
            "policy.timezone: 'Europe/Berlinn' is not an IANA time zone name",
        ),
        (changed(seed_dict, "policy.items", []), "policy.items: name at least one folder"),
        (
            changed(seed_dict, "policy.items", ["srv/data"]),
            "policy.items: 'srv/data' is not an absolute path",
        ),
        (changed(seed_dict, "policy.exclude", [""]), "policy.exclude: '' is not a non-empty"),
        (
            changed(seed_dict, "schedule.frequency", "hourly"),
            "schedule.frequency: 'hourly' is not a frequency; allowed: daily, weekly",
        ),
        (
            changed(seed_dict, "schedule.times", ["24:00"]),
            "schedule.times: '24:00' is not a time of day; use HH:MM, 00:00 to 23:59",
        ),
        (
            changed(seed_dict, "schedule.times", ["7:00"]),
            "schedule.times: '7:00' is not a time of day",
        ),
        (changed(seed_dict, "schedule.days", ["sun"]), "schedule.days: only a weekly schedule"),
        (changed(seed_dict, "retention.daily", ...), "retention.daily: required with a daily"),
        (
            changed(weekly_dict, "retention.daily", {"days": 7}),
            "retention.daily: not allowed with a weekly schedule",
        ),
        (
            changed(weekly_dict, "retention.weekly", ...),
            "retention.weekly: required with a weekly schedule",
        ),
        (
            changed(weekly_dict, "retention.weekly.days_of_week", ["sat"]),
            "retention.weekly.days_of_week: the schedule never runs on sat (schedule.days: sun)",
        ),
        (
            changed(
                lambda: changed(weekly_dict, "schedule.days", ["sun", "wed"]),
                "retention.weekly.days_of_week",
                ["sun"],
            ),
            "retention.weekly.days_of_week: a weekly schedule keeps every scheduled day "
            "(schedule.days: wed, sun); missing: wed",
        ),
        (
            changed(weekly_dict, "retention.monthly", {"days_of_month": [15], "months": 12}),
            "retention.monthly.days_of_month: not allowed with a weekly schedule",
        ),
        (
            changed(
                weekly_dict,
                "retention.monthly",
                {"weeks_of_month": ["last"], "days_of_week": ["sat"], "months": 12},
            ),
            "retention.monthly.days_of_week: the schedule never runs on sat (schedule.days: sun)",
        ),
        (
            changed(
                weekly_dict,
                "retention.yearly",
                {
                    "months_of_year": ["mar"],
                    "weeks_of_month": ["last"],
                    "days_of_week": ["sat"],
                    "years": 10,
                },
            ),
            "retention.yearly.days_of_week: the schedule never runs on sat (schedule.days: sun)",
        ),
        (
            changed(seed_dict, "retention.monthly.days_of_month", [1]),
            "retention.monthly: give days_of_month, or weeks_of_month with days_of_week, not both",
        ),
        (
            changed(seed_dict, "retention.monthly.weeks_of_month", ...),
            "retention.monthly.weeks_of_month: required with days_of_week",
        ),
        (
            changed(seed_dict, "retention.yearly.months_of_year", []),
            "retention.yearly.months_of_year: name at least one month",
        ),
        (
            changed(seed_dict, "retention.weekly.weeks", "four"),
            'retention.weekly.weeks: expected a whole number, got "four"',
        ),
        (
            changed(seed_dict, "retention.weekly.weeks", True),
            "retention.weekly.weeks: expected a whole number, got true",
        ),
    ],
)
def test_a_policy_outside_the_rules_is_refused(data: Data, message: str) -> None:
    with pytest.raises(UsageError) as refused:
        build(data)
    assert str(refused.value).startswith(message)


def test_unknown_keys_are_refused_by_name() -> None:
    cases = [
        (changed(seed_dict, "hourly", {}), "the policy file: unknown key hourly"),
        (changed(seed_dict, "policy.itemz", ["/x"]), "[policy]: unknown key policy.itemz"),
        (
            changed(seed_dict, "retention.hourly", {"hours": 3}),
            "[retention]: unknown key retention.hourly; allowed: daily, weekly, monthly, yearly",
        ),
        (
            changed(seed_dict, "retention.weekly.day", "sat"),
            "[retention.weekly]: unknown key retention.weekly.day; allowed: days_of_week, weeks",
        ),
    ]
    for data, message in cases:
        with pytest.raises(UsageError) as refused:
            build(data)
        assert str(refused.value).startswith(message)
    data = seed_dict()
    data["schedule"] |= {"every": 2, "day": "sun"}
    with pytest.raises(UsageError, match=r"unknown keys schedule\.every, schedule\.day"):
        build(data)


def test_direct_construction_validates_too() -> None:
    from cairn.policy import DailyRule, MonthlyRule, WeeklyRule

    with pytest.raises(UsageError, match=r"retention\.daily\.days: 3 is out of range"):
        DailyRule(3)
    with pytest.raises(UsageError, match=r"retention\.weekly\.days_of_week: 7 is not a weekday"):
        WeeklyRule((7,), 4)
    with pytest.raises(UsageError, match=r"retention\.monthly\.weeks_of_month: 5 is not a week"):
        MonthlyRule(12, weeks_of_month=(5,), days_of_week=(5,))
    policy = build(seed_dict())
    with pytest.raises(UsageError, match=r"policy\.start: '2026-12-07' is not a date"):
        Policy(
            items=policy.items,
            schedule=policy.schedule,
            retention=policy.retention,
            timezone=policy.timezone,
            start="2026-12-07",  # type: ignore[arg-type]
        )
