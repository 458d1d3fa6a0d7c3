"""The policy file: the issue's exact shape, defaults, the TOML and JSON round trips."""

from __future__ import annotations

from datetime import date, time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.core.errors import UsageError
from cairn.policy import (
    LAST,
    Policy,
    parse_policy,
    policy_from_json,
    policy_to_json,
    policy_to_toml,
)

from .conftest import SEED_POLICY
from .test_retention_reference import Spec, build, policies

ISSUE_EXAMPLE = """
[policy]
items = ["/srv/data", "/home/alice/Documents"]
exclude = ["*.tmp", "/srv/data/cache"]
timezone = "Europe/Berlin"          # IANA name; default: the machine's zone
initial_backup = "online"           # or "offline", with the [offline] table (docs/offline.md)
start = 2026-12-07                  # optional: the first week of an every-N-weeks schedule

[schedule]
frequency = "daily"                 # or "weekly"
times = ["00:00", "18:00"]          # 1 to 3 times of day

[retention.daily]
days = 7                            # 7..9999; required with a daily schedule

[retention.weekly]
days_of_week = ["sat"]
weeks = 4                           # 4..5163

[retention.monthly]
days_of_month = [1, 15, "last"]     # 1..28 or "last"; or instead weeks_of_month + days_of_week:
months = 12                         # 3..1188

[retention.yearly]
months_of_year = ["mar"]
weeks_of_month = ["last"]           # or days_of_month
days_of_week = ["sat"]
years = 10                          # 1..99
"""


def parse(text: str, today: date = date(2026, 12, 1)) -> Policy:
    return parse_policy(text, default_timezone="America/New_York", today=today)


def test_the_issues_example_reads_as_written() -> None:
    policy = parse(ISSUE_EXAMPLE)
    assert policy.items == ("/srv/data", "/home/alice/Documents")
    assert policy.exclude == ("*.tmp", "/srv/data/cache")
    assert policy.timezone == "Europe/Berlin"
    assert policy.start == date(2026, 12, 7)
    assert policy.schedule.times == (time(0, 0), time(18, 0))
    monthly = policy.retention.monthly
    assert monthly is not None and monthly.days_of_month == (1, 15, LAST)
    yearly = policy.retention.yearly
    assert yearly is not None
    assert (yearly.months_of_year, yearly.weeks_of_month, yearly.days_of_week) == (
        (3,),
        (LAST,),
        (5,),
    )


def test_defaults_timezone_start_exclusions_and_initial_backup() -> None:
    policy = parse(
        '[policy]\nitems = ["/home/alice"]\n[schedule]\nfrequency = "daily"\ntimes = ["21:00"]\n'
        "[retention.daily]\ndays = 30\n",
        today=date(2027, 2, 3),
    )
    assert policy.timezone == "America/New_York"
    assert policy.start == date(2027, 2, 3)
    assert policy.exclude == ()
    assert policy.initial_backup == "online"
    # Written out, the defaults become explicit, so the start no longer moves.
    assert "start = 2027-02-03" in policy_to_toml(policy)


def test_weekly_retention_defaults_to_the_scheduled_days() -> None:
    policy = parse(
        '[policy]\nitems = ["/srv"]\n[schedule]\nfrequency = "weekly"\ntimes = ["21:00"]\n'
        'days = ["wed", "sun"]\nevery_weeks = 2\n[retention.weekly]\nweeks = 12\n'
    )
    assert policy.retention.weekly is not None
    assert policy.retention.weekly.days_of_week == (2, 6)


def test_names_are_read_case_insensitively_and_duplicates_dropped() -> None:
    text = SEED_POLICY.replace(
        'days_of_week = ["sat"]\nweeks', 'days_of_week = ["SAT", "sat"]\nweeks'
    )
    assert parse(text) == parse(SEED_POLICY)


def test_not_toml_is_refused() -> None:
    with pytest.raises(UsageError, match="policy file: not valid TOML"):
        parse("[policy\nitems = 1")


@pytest.mark.parametrize(
    ("replace", "by", "message"),
    [
        ("start = 2026-12-07", "start = 2026-12-07T10:00:00", "policy.start: 2026-12-07T10:00:00"),
        ("start = 2026-12-07", 'start = "soon"', 'policy.start: "soon" is not a date'),
        (
            'times = ["00:00", "18:00"]',
            'times = "18:00"',
            'schedule.times: expected a list, got "18:00"',
        ),
        ('timezone = "Europe/Berlin"', "timezone = 1", "policy.timezone: expected a string, got 1"),
        ("[retention.daily]\ndays = 7\n", "", "retention.daily: required with a daily schedule"),
        ("[schedule]", "[schedul]", "the policy file: unknown key schedul"),
    ],
)
def test_wrong_values_are_refused_by_field(replace: str, by: str, message: str) -> None:
    assert replace in SEED_POLICY
    with pytest.raises(UsageError) as refused:
        parse(SEED_POLICY.replace(replace, by))
    assert str(refused.value).startswith(message)


def test_start_may_be_a_string_date() -> None:
    text = SEED_POLICY.replace("start = 2026-12-07", 'start = "2026-12-07"')
    assert parse(text).start == date(2026, 12, 7)


def test_seed_round_trips_through_toml_and_json() -> None:
    policy = parse(SEED_POLICY)
    assert parse(policy_to_toml(policy), today=date(2000, 1, 1)) == policy
    assert policy_from_json(policy_to_json(policy)) == policy


def test_policy_show_json() -> None:
    policy = parse(ISSUE_EXAMPLE)
    assert policy_to_json(policy) == {
        "policy": {
            "items": ["/srv/data", "/home/alice/Documents"],
            "exclude": ["*.tmp", "/srv/data/cache"],
            "timezone": "Europe/Berlin",
            "initial_backup": "online",
            "start": "2026-12-07",
        },
        "schedule": {"frequency": "daily", "times": ["00:00", "18:00"]},
        "retention": {
            "daily": {"days": 7},
            "weekly": {"days_of_week": ["sat"], "weeks": 4},
            "monthly": {"days_of_month": [1, 15, "last"], "months": 12},
            "yearly": {
                "months_of_year": ["mar"],
                "weeks_of_month": ["last"],
                "days_of_week": ["sat"],
                "years": 10,
            },
        },
    }


def test_a_stored_policy_must_name_its_zone_and_start() -> None:
    data = policy_to_json(parse(SEED_POLICY))
    del data["policy"]["start"]  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match=r"policy\.start: required"):
        policy_from_json(data)


PATHS = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=20).filter(
    lambda s: "\x00" not in s
)


@settings(max_examples=150, deadline=None)
@given(
    spec=policies(),
    items=st.lists(PATHS.map(lambda s: "/" + s), min_size=1, max_size=3),
    exclude=st.lists(PATHS, max_size=3),
)
def test_any_policy_round_trips(spec: Spec, items: list[str], exclude: list[str]) -> None:
    spec["policy"] |= {"items": items, "exclude": exclude}
    policy = build(spec)
    text = policy_to_toml(policy)
    assert parse_policy(text, default_timezone="UTC", today=date(1999, 1, 1)) == policy
    assert policy_from_json(policy_to_json(policy)) == policy
