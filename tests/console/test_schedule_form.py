"""The wizard's fields and the policy file's tables: a policy shown in the wizard and posted back
unchanged is the same policy, for daily and weekly schedules and both ways of choosing days."""

from __future__ import annotations

from datetime import date

import pytest

from cairn.console.forms import parse_form
from cairn.console.schedule_form import Values, from_policy, step_of, to_tables
from cairn.engine.settings import validate_policy
from cairn.policy import Policy, parse_policy
from tests.policy.conftest import SEED_POLICY, policy_with

WEEKLY = (
    '[schedule]\nfrequency = "weekly"\ndays = ["wed", "sat"]\ntimes = ["21:00"]\nevery_weeks = 2\n'
    "[retention.weekly]\nweeks = 8\n"
    '[retention.monthly]\nweeks_of_month = ["first", "last"]\ndays_of_week = ["sat"]\nmonths = 6\n'
)
DAY_BASED = (
    '[schedule]\nfrequency = "daily"\ntimes = ["01:00", "13:00", "22:30"]\n'
    "[retention.daily]\ndays = 10\n"
    '[retention.monthly]\ndays_of_month = [1, 15, "last"]\nmonths = 3\n'
    '[retention.yearly]\nmonths_of_year = ["jan", "jul"]\ndays_of_month = ["last"]\nyears = 2\n'
)


def _seed() -> Policy:
    return parse_policy(SEED_POLICY, default_timezone="UTC", today=date(2026, 12, 7))


@pytest.mark.parametrize(
    "make", [_seed, lambda: policy_with(WEEKLY), lambda: policy_with(DAY_BASED)]
)
def test_a_policy_posted_back_unchanged_is_the_same_policy(make: object, tmp_path: object) -> None:
    policy = make()  # type: ignore[operator]
    values = from_policy(policy)
    # Through a real form body, as the browser posts it.
    body = (
        "&".join(f"{name}={value}" for name, vals in values.fields.items() for value in vals)
        .replace(" ", "+")
        .replace("\n", "%0A")
    )
    posted = Values.from_form(parse_form(body.encode()))
    posted.fields["allow_missing"] = ["on"]  # the seed's items are not on this machine
    again = validate_policy(to_tables(posted), policy.start, allow_missing=True)
    assert again == policy


def test_offline_goes_to_the_policy_as_its_offline_table() -> None:
    values = from_policy(_seed())
    values.fields |= {"initial": ["offline"], "staging": [" /mnt/stage "], "import_job": ["job1"]}
    tables = to_tables(values)
    assert tables["offline"] == {"staging": "/mnt/stage", "import_job": "job1"}
    assert tables["policy"]["initial_backup"] == "offline"  # type: ignore[index]


def test_a_number_that_is_not_one_gets_the_policys_words() -> None:
    values = from_policy(_seed())
    values.fields["daily_days"] = ["seven"]
    with pytest.raises(
        Exception, match=r'retention.daily.days: expected a whole number, got "seven"'
    ):
        validate_policy(to_tables(values), date(2026, 12, 7), allow_missing=True)


@pytest.mark.parametrize(
    ("field", "step"),
    [
        ("policy.items", "items"),
        ("policy.exclude", "exclusions"),
        ("schedule.times", "schedule"),
        ("policy.timezone", "schedule"),
        ("retention", "retention"),
        ("retention.yearly.years", "retention"),
        ("offline.staging", "initial"),
        (None, "confirm"),
    ],
)
def test_each_field_is_shown_on_its_page(field: str | None, step: str) -> None:
    assert step_of(field, "confirm") == step
