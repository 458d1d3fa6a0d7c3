"""The wizard's validation is `policy set`'s: the same message, and the field it names."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path

import pytest

from cairn.core.errors import UsageError
from cairn.engine.settings import validate_policy
from cairn.policy.problems import problem_of
from tests.cli.conftest import Cli


def tables(item: str) -> dict[str, object]:
    return {
        "policy": {"items": [item], "exclude": [], "timezone": "Europe/Berlin"},
        "schedule": {"frequency": "daily", "times": ["00:00", "18:00"]},
        "retention": {"daily": {"days": 7}, "weekly": {"days_of_week": ["sat"], "weeks": 4}},
    }


CASES = [
    # (what to change in the tables, the same as `policy set` flags, the field named)
    ("retention.daily.days", 5, ["--keep-days", "5", "--keep-weeks", "4", "--weekly-on", "sat"]),
    ("retention.weekly.weeks", 3, ["--keep-days", "7", "--keep-weeks", "3", "--weekly-on", "sat"]),
]


def _set(data: dict[str, object], path: str, value: object) -> dict[str, object]:
    out = copy.deepcopy(data)
    *parents, last = path.split(".")
    node: dict[str, object] = out
    for name in parents:
        node = node[name]  # type: ignore[assignment]
    node[last] = value
    return out


@pytest.mark.parametrize(("field", "value", "flags"), CASES)
def test_an_out_of_limits_value_gets_policy_sets_message_and_its_field(
    cli: Cli, tmp_path: Path, field: str, value: int, flags: list[str]
) -> None:
    item = tmp_path / "data"
    item.mkdir()
    with pytest.raises(UsageError) as caught:
        validate_policy(_set(tables(str(item)), field, value), date(2026, 12, 7))
    proc = cli.run(
        "policy", "set", "--item", str(item), "--daily", "00:00,18:00",
        "--timezone", "Europe/Berlin", *flags, expect=2,
    )  # fmt: skip
    assert proc.stderr == f"cairn: {caught.value}\n"
    problem = problem_of(str(caught.value))
    assert problem.field == field
    assert f"{value} is out of range; allowed:" in problem.message


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (("schedule.times", ["01:00", "02:00", "03:00", "04:00"]), "schedule.times", "1 to 3"),
        (("retention.monthly", {"days_of_month": [1], "months": 2000}), "retention.monthly.months",
         "allowed: 3 to 1188 months"),
        (("policy.timezone", "Mars/Olympus"), "policy.timezone", "IANA time zone"),
        (("policy.exclude", ["a/b"]), "policy.exclude", "exclusion pattern 'a/b'"),
        (("policy.items", ["/nonexistent/cairn-item"]), "policy.items", "does not exist"),
        (("retention.daily", {"days": 9999}), "retention", "worst case"),
    ],
)  # fmt: skip
def test_each_refusal_names_its_field(
    tmp_path: Path, change: tuple[str, object], field: str, words: str
) -> None:
    with pytest.raises(UsageError) as caught:
        validate_policy(_set(tables(str(tmp_path)), *change), date(2026, 12, 7))
    problem = problem_of(str(caught.value))
    assert problem.field == field, problem.message
    assert words in problem.message


def test_a_message_about_no_field_names_none() -> None:
    assert problem_of("policy file: not valid TOML: x").field is None


def test_a_valid_policy_comes_back_as_policy_set_would_set_it(tmp_path: Path) -> None:
    policy = validate_policy(tables(str(tmp_path)), date(2026, 12, 7))
    assert policy.items == (str(tmp_path),)
    assert policy.retention.weekly is not None and policy.retention.weekly.weeks == 4
