"""The limits a policy must keep (MARS's), and the worst-case count of recovery points alive.

Every limit is refused with a `UsageError` (exit 2) whose message names the field, the value and
the allowed range, e.g. ``retention.weekly.weeks: 3 is out of range; allowed: 4 to 5163 weeks``.

The worst case (`worst_case_points`) is an upper bound on the scheduled recovery points alive at
any one instant, computed from the schedule and the rules without running them:

- the base rule (daily under a daily schedule, weekly under a weekly one) keeps every scheduled
  point younger than its duration: times x days for daily, times x days x ceil(weeks / every)
  for weekly;
- each longer rule adds the points it matches that are older than the base duration and younger
  than its own, counted per series (one day selector at one time of day) as the fewest of: the
  points its duration can hold (weeks; months, or months + 1 for a weekday of the month, whose
  date moves; the same for years) and the points that fit in the extra span given their spacing.

A point kept by two of the weekly, monthly and yearly rules is counted under each, so the bound
can exceed the true peak; it never falls below it. On-demand points are not counted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from cairn.core.errors import UsageError

if TYPE_CHECKING:
    from cairn.policy.model import MonthlyRule, Retention, Schedule, YearlyRule

MAX_TIMES_PER_DAY: Final = 3
EVERY_WEEKS: Final = (1, 4)
DAILY_DAYS: Final = (7, 9999)
WEEKLY_WEEKS: Final = (4, 5163)
MONTHLY_MONTHS: Final = (3, 1188)
YEARLY_YEARS: Final = (1, 99)
DAY_OF_MONTH: Final = (1, 28)
MAX_POINTS: Final = 9999


def check_range(field: str, value: int, bounds: tuple[int, int], unit: str) -> None:
    """Refuse `value` outside `bounds` (inclusive) with a message naming field, value, range."""
    low, high = bounds
    if not low <= value <= high:
        raise UsageError(f"{field}: {value} is out of range; allowed: {low} to {high} {unit}")


def check_worst_case(schedule: Schedule, retention: Retention) -> None:
    count = worst_case_points(schedule, retention)
    if count > MAX_POINTS:
        raise UsageError(
            f"retention: this policy can keep up to {count} recovery points alive at once "
            f"(worst case); allowed: at most {MAX_POINTS}. Shorten a rule or run fewer times a day."
        )


def worst_case_points(schedule: Schedule, retention: Retention) -> int:
    """An upper bound on the scheduled recovery points alive at once (see the module doc)."""
    times = len(schedule.times)
    if schedule.frequency == "daily":
        if retention.daily is None:
            return 0
        base_days = retention.daily.days
        total = times * base_days
        if retention.weekly is not None:
            weeks = retention.weekly.weeks
            per_series = _series_bound(weeks, 7 * weeks, base_days, 7)
            total += times * len(retention.weekly.days_of_week) * per_series
    else:
        if retention.weekly is None:
            return 0
        weeks = retention.weekly.weeks
        base_days = 7 * weeks
        total = times * len(schedule.days) * -(-weeks // schedule.every_weeks)
    if retention.monthly is not None:
        total += times * _monthly_bound(retention.monthly, base_days)
    if retention.yearly is not None:
        total += times * _yearly_bound(retention.yearly, base_days)
    return total


def _monthly_bound(rule: MonthlyRule, base_days: int) -> int:
    months = rule.months
    if rule.days_of_month:
        series, cap = len(rule.days_of_month), months
    else:
        series, cap = len(rule.weeks_of_month) * len(rule.days_of_week), months + 1
    return series * _series_bound(cap, 31 * months, base_days, 28)


def _yearly_bound(rule: YearlyRule, base_days: int) -> int:
    years = rule.years
    if rule.days_of_month:
        per_month, cap, spacing = len(rule.days_of_month), years, 365
    else:
        per_month, cap, spacing = len(rule.weeks_of_month) * len(rule.days_of_week), years + 1, 364
    series = len(rule.months_of_year) * per_month
    return series * _series_bound(cap, 366 * years, base_days, spacing)


def _series_bound(cap: int, longest_days: int, base_days: int, spacing_days: int) -> int:
    """Points of one series older than the base rule keeps and younger than `longest_days`."""
    span = longest_days - base_days
    if span <= 0:
        return 0
    return min(cap, -(-span // spacing_days))
