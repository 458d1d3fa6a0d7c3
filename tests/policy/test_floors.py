"""Lowering retention is named rule by rule (policy/floors.py); the floors are the limits."""

from __future__ import annotations

from datetime import date

import pytest

from cairn.core.errors import UsageError
from cairn.policy import Policy, parse_policy
from cairn.policy.floors import retention_lowered

BASE = """
[policy]
items = ["/x"]
timezone = "UTC"
[schedule]
frequency = "daily"
times = ["21:00"]
[retention.daily]
days = {days}
{weekly}
"""
WEEKLY = "[retention.weekly]\ndays_of_week = [{days}]\nweeks = {weeks}\n"


def policy(days: int = 30, weekly: str = "") -> Policy:
    return parse_policy(
        BASE.format(days=days, weekly=weekly), default_timezone="UTC", today=date(2026, 3, 1)
    )


def test_thirty_days_to_seven_is_lowering() -> None:
    assert retention_lowered(policy(30), policy(7)) == ["retention.daily.days 30 -> 7"]
    assert retention_lowered(policy(7), policy(30)) == []


def test_a_rule_removed_or_fewer_days_selected_is_lowering() -> None:
    weekly = policy(30, WEEKLY.format(days='"sat", "sun"', weeks=8))
    assert retention_lowered(weekly, policy(30)) == ["retention.weekly removed (was 8 weeks)"]
    fewer = policy(30, WEEKLY.format(days='"sat"', weeks=8))
    assert retention_lowered(weekly, fewer) == ["retention.weekly.days_of_week keeps fewer days"]
    more = policy(30, WEEKLY.format(days='"fri", "sat", "sun"', weeks=9))
    assert retention_lowered(weekly, more) == []
    assert retention_lowered(policy(30), weekly) == []  # a new rule keeps more


@pytest.mark.parametrize("days", [1, 6])
def test_below_the_daily_floor_is_refused(days: int) -> None:
    with pytest.raises(UsageError, match=r"retention.daily.days: .* allowed: 7 to 9999"):
        policy(days)
