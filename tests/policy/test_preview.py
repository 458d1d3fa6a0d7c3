"""The Schedule Backup wizard's preview: points alive over the next years, by the rule keeping each."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from cairn.policy import Policy, simulate
from cairn.policy.preview import default_years, retention_preview
from tests.policy.conftest import policy_with

BERLIN = ZoneInfo("Europe/Berlin")


def _longest(rules: tuple[str, ...]) -> str:
    order = ("daily", "weekly", "monthly", "yearly")
    return max(rules, key=order.index) if rules else "newest"


def test_the_seed_policy_preview_agrees_with_the_simulator_at_every_sample(seed: Policy) -> None:
    start = datetime(2026, 12, 7, tzinfo=BERLIN)
    preview = retention_preview(seed, start, years=3, samples=7)
    assert default_years(seed) == 10
    assert preview.rules == ("daily", "weekly", "monthly", "yearly")
    for sample in preview.samples[1:]:
        result = simulate(seed, start, sample.time)
        assert sample.total == result.count, sample.time
        # The seed's rules grow in length with their unit, so the longest unit keeps longest.
        expected = Counter(_longest(p.rules) for p in result.points)
        assert sample.counts == dict(expected), sample.time


def test_the_seed_policy_settles_to_its_documented_size(seed: Policy) -> None:
    start = datetime(2026, 12, 7, tzinfo=BERLIN)
    preview = retention_preview(seed, start, samples=12)
    assert len(preview.samples) == 12
    end = preview.samples[-1]
    # Ten years on: 7 days x 2 times (less a Saturday's, kept longer), the Saturdays of 4 weeks
    # x 2 (less the last of a month), 12 last Saturdays x 2 (less March's), 10 Marches x 2.
    assert end.counts == {"daily": 12, "weekly": 6, "monthly": 22, "yearly": 20}
    assert preview.runs == simulate(seed, start, end.time).runs
    assert preview.peak <= 68  # docs/policy.md: the worst case bound of the seed
    assert preview.to_json()["peak"] == preview.peak


def test_a_weekly_schedule_counts_points_under_the_weekly_rule() -> None:
    policy = policy_with(
        '[schedule]\nfrequency = "weekly"\ndays = ["sun"]\ntimes = ["21:00"]\nevery_weeks = 2\n'
        "[retention.weekly]\nweeks = 4\n"
    )
    start = datetime(2026, 12, 7, tzinfo=BERLIN)
    preview = retention_preview(policy, start, years=1, samples=10)
    assert preview.rules == ("weekly",)
    for sample in preview.samples[2:]:
        assert sample.counts == {"weekly": simulate(policy, start, sample.time).count}


def test_refuses_a_naive_start_and_silly_spans(seed: Policy) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        retention_preview(seed, datetime(2026, 12, 7))
    with pytest.raises(ValueError, match="years"):
        retention_preview(seed, datetime(2026, 12, 7, tzinfo=BERLIN), years=11)
