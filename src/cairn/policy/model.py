"""The backup policy: one small frozen structure per concern, each validated when it is built.

    Policy            items, exclusions, time zone, initial backup, start date
    ├── Schedule      daily | weekly; 1-3 times of day; weekly: days and every N weeks
    └── Retention     DailyRule | WeeklyRule | MonthlyRule | YearlyRule (each optional)

Values are the calendar's numbers: weekdays 0-6 (Monday = 0, as `date.weekday()`), months 1-12,
days of month 1-28 or `LAST`, weeks of month 1-4 (first..fourth) or `LAST`. Tuples are sorted and
duplicates dropped. A value outside its limits raises `UsageError` naming the field (as it is
spelled in the policy file, e.g. ``retention.weekly.weeks``), the value and the allowed range.

`Policy` checks the parts against each other: a daily schedule needs the daily rule; a weekly
schedule needs the weekly rule, naming exactly its scheduled days, and refuses the daily rule; no
rule may name a day on which the schedule never runs (under a weekly schedule, monthly and yearly
rules must therefore choose weeks of month and weekdays that the schedule runs on, not days of
month); and at most `MAX_POINTS` recovery points may be alive in the worst case.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import PurePosixPath, PureWindowsPath
from typing import ClassVar, Final, Literal
from zoneinfo import ZoneInfo

from cairn.core.errors import UsageError
from cairn.policy import limits
from cairn.policy.hooks import NO_HOOKS, Hooks
from cairn.policy.offline import OfflineSeeding
from cairn.policy.snapshot import NO_SNAPSHOT, SnapshotRule
from cairn.policy.wallclock import add_days, add_months, days_in_month

WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MONTHS: Final = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKS_OF_MONTH: Final = ("first", "second", "third", "fourth")
LAST: Final = -1
"""The last day of the month (in days_of_month) or the last week of it (in weeks_of_month)."""

Frequency = Literal["daily", "weekly"]
RuleName = Literal["daily", "weekly", "monthly", "yearly"]


def weekday_names(days: Iterable[int]) -> str:
    return ", ".join(WEEKDAYS[d] for d in days)


def _normalized(values: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted(set(values), key=lambda v: 99 if v == LAST else v))


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


@dataclass(frozen=True, slots=True)
class Schedule:
    """When backups run: `times` every day, or on `days` of every `every_weeks`-th week."""

    frequency: Frequency
    times: tuple[time, ...]
    days: tuple[int, ...] = ()
    every_weeks: int = 1

    def __post_init__(self) -> None:
        if self.frequency not in ("daily", "weekly"):
            raise UsageError(
                f"schedule.frequency: {self.frequency!r} is not a frequency; allowed: daily, weekly"
            )
        times = tuple(sorted(set(self.times)))
        if not 1 <= len(times) <= limits.MAX_TIMES_PER_DAY:
            raise UsageError(
                f"schedule.times: {len(times)} times of day given; allowed: 1 to "
                f"{limits.MAX_TIMES_PER_DAY} times of day"
            )
        for t in times:
            if t.tzinfo is not None or t.second or t.microsecond:
                raise UsageError(f"schedule.times: {t} is not a time of day like 18:00")
        _set(self, "times", times)
        days = _normalized(self.days)
        if self.frequency == "daily":
            if days:
                raise UsageError("schedule.days: only a weekly schedule has days")
            if self.every_weeks != 1:
                raise UsageError(
                    "schedule.every_weeks: only a weekly schedule repeats every N weeks"
                )
        else:
            if not days:
                raise UsageError("schedule.days: a weekly schedule names at least one day")
            for d in days:
                _check_weekday("schedule.days", d)
            limits.check_range(
                "schedule.every_weeks", self.every_weeks, limits.EVERY_WEEKS, "weeks"
            )
        _set(self, "days", days)


@dataclass(frozen=True, slots=True)
class DailyRule:
    """Every scheduled recovery point kept `days` days."""

    name: ClassVar[RuleName] = "daily"
    days: int

    def __post_init__(self) -> None:
        limits.check_range("retention.daily.days", self.days, limits.DAILY_DAYS, "days")

    def matches(self, day: date) -> bool:
        return True

    def keep_until(self, local: datetime) -> datetime:
        return add_days(local, self.days)


@dataclass(frozen=True, slots=True)
class WeeklyRule:
    """The recovery points taken on `days_of_week` kept `weeks` weeks."""

    name: ClassVar[RuleName] = "weekly"
    days_of_week: tuple[int, ...]
    weeks: int

    def __post_init__(self) -> None:
        days = _normalized(self.days_of_week)
        if not days:
            raise UsageError("retention.weekly.days_of_week: name at least one day")
        for d in days:
            _check_weekday("retention.weekly.days_of_week", d)
        _set(self, "days_of_week", days)
        limits.check_range("retention.weekly.weeks", self.weeks, limits.WEEKLY_WEEKS, "weeks")

    def matches(self, day: date) -> bool:
        return day.weekday() in self.days_of_week

    def keep_until(self, local: datetime) -> datetime:
        return add_days(local, 7 * self.weeks)


@dataclass(frozen=True, slots=True)
class MonthlyRule:
    """The points on chosen days of month (or weekdays of chosen weeks) kept `months` months."""

    name: ClassVar[RuleName] = "monthly"
    months: int
    days_of_month: tuple[int, ...] = ()
    weeks_of_month: tuple[int, ...] = ()
    days_of_week: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        _check_day_selection(self, "retention.monthly")
        limits.check_range("retention.monthly.months", self.months, limits.MONTHLY_MONTHS, "months")

    def matches(self, day: date) -> bool:
        return _day_selected(day, self.days_of_month, self.weeks_of_month, self.days_of_week)

    def keep_until(self, local: datetime) -> datetime:
        return add_months(local, self.months)


@dataclass(frozen=True, slots=True)
class YearlyRule:
    """The same choice of days as the monthly rule, within `months_of_year`, kept `years` years."""

    name: ClassVar[RuleName] = "yearly"
    years: int
    months_of_year: tuple[int, ...]
    days_of_month: tuple[int, ...] = ()
    weeks_of_month: tuple[int, ...] = ()
    days_of_week: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        months = _normalized(self.months_of_year)
        if not months:
            raise UsageError("retention.yearly.months_of_year: name at least one month")
        for m in months:
            if not 1 <= m <= 12:
                raise UsageError(
                    f"retention.yearly.months_of_year: {m} is not a month; allowed: 1 to 12 "
                    "(jan to dec)"
                )
        _set(self, "months_of_year", months)
        _check_day_selection(self, "retention.yearly")
        limits.check_range("retention.yearly.years", self.years, limits.YEARLY_YEARS, "years")

    def matches(self, day: date) -> bool:
        return day.month in self.months_of_year and _day_selected(
            day, self.days_of_month, self.weeks_of_month, self.days_of_week
        )

    def keep_until(self, local: datetime) -> datetime:
        return add_months(local, 12 * self.years)


Rule = DailyRule | WeeklyRule | MonthlyRule | YearlyRule


@dataclass(frozen=True, slots=True)
class Retention:
    """The retention rules; which are required depends on the schedule (see `Policy`)."""

    daily: DailyRule | None = None
    weekly: WeeklyRule | None = None
    monthly: MonthlyRule | None = None
    yearly: YearlyRule | None = None

    def rules(self) -> tuple[Rule, ...]:
        """The rules present, shortest unit first: daily, weekly, monthly, yearly."""
        present = (self.daily, self.weekly, self.monthly, self.yearly)
        return tuple(rule for rule in present if rule is not None)


@dataclass(frozen=True, slots=True)
class Policy:
    """A machine's backup policy. `start` anchors an every-N-weeks schedule; no run is before it."""

    items: tuple[str, ...]
    schedule: Schedule
    retention: Retention
    timezone: str
    start: date
    exclude: tuple[str, ...] = ()
    initial_backup: str = "online"
    offline: OfflineSeeding | None = None
    """`[offline]`: required with `initial_backup = "offline"`, refused otherwise."""
    hooks: Hooks = NO_HOOKS
    snapshot: SnapshotRule = NO_SNAPSHOT
    """`[snapshot]`: read the items from filesystem snapshots (policy/snapshot.py)."""

    def __post_init__(self) -> None:
        _set(self, "items", _checked_items(self.items))
        _set(self, "exclude", _checked_patterns(self.exclude))
        _check_timezone(self.timezone)
        if self.initial_backup not in ("online", "offline"):
            raise UsageError(
                f"policy.initial_backup: {self.initial_backup!r} is not an initial backup type; "
                'allowed: "online", "offline"'
            )
        if self.initial_backup == "offline" and self.offline is None:
            raise UsageError(
                'policy.initial_backup: "offline" needs an [offline] table with staging = "PATH"'
                ' (a local folder for the first backup) and import_job = "NAME"'
            )
        if self.initial_backup == "online" and self.offline is not None:
            raise UsageError(
                '[offline]: only with initial_backup = "offline"; remove the table or set'
                ' policy.initial_backup = "offline"'
            )
        if not isinstance(self.start, date) or isinstance(self.start, datetime):
            raise UsageError(f"policy.start: {self.start!r} is not a date like 2026-12-07")
        _check_rules_against_schedule(self.schedule, self.retention)
        limits.check_worst_case(self.schedule, self.retention)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _check_weekday(field: str, day: int) -> None:
    if not 0 <= day <= 6:
        raise UsageError(f"{field}: {day} is not a weekday; allowed: 0 to 6 (mon to sun)")


def _check_day_selection(rule: MonthlyRule | YearlyRule, path: str) -> None:
    days_of_month = _normalized(rule.days_of_month)
    weeks = _normalized(rule.weeks_of_month)
    weekdays = _normalized(rule.days_of_week)
    if days_of_month and (weeks or weekdays):
        raise UsageError(
            f"{path}: give days_of_month, or weeks_of_month with days_of_week, not both"
        )
    if not days_of_month:
        if not weeks and not weekdays:
            raise UsageError(f"{path}: choose days_of_month, or weeks_of_month with days_of_week")
        if not weeks:
            raise UsageError(f"{path}.weeks_of_month: required with days_of_week")
        if not weekdays:
            raise UsageError(f"{path}.days_of_week: required with weeks_of_month")
    for d in days_of_month:
        if d != LAST:
            limits.check_range(f"{path}.days_of_month", d, limits.DAY_OF_MONTH, 'or "last"')
    for w in weeks:
        if w != LAST and not 1 <= w <= 4:
            raise UsageError(
                f"{path}.weeks_of_month: {w} is not a week of the month; allowed: first, "
                "second, third, fourth, last"
            )
    for d in weekdays:
        _check_weekday(f"{path}.days_of_week", d)
    _set(rule, "days_of_month", days_of_month)
    _set(rule, "weeks_of_month", weeks)
    _set(rule, "days_of_week", weekdays)


def _day_selected(
    day: date, days_of_month: tuple[int, ...], weeks: tuple[int, ...], weekdays: tuple[int, ...]
) -> bool:
    last_day = days_in_month(day.year, day.month)
    if days_of_month:
        return day.day in days_of_month or (LAST in days_of_month and day.day == last_day)
    if day.weekday() not in weekdays:
        return False
    week = (day.day - 1) // 7 + 1
    return week in weeks or (LAST in weeks and day.day + 7 > last_day)


def _checked_items(items: Iterable[str]) -> tuple[str, ...]:
    checked = _checked_patterns(items, "policy.items")
    if not checked:
        raise UsageError("policy.items: name at least one folder or file to back up")
    for item in checked:
        if not (PurePosixPath(item).is_absolute() or PureWindowsPath(item).is_absolute()):
            raise UsageError(f"policy.items: {item!r} is not an absolute path")
    return checked


def _checked_patterns(values: Iterable[str], field: str = "policy.exclude") -> tuple[str, ...]:
    checked: list[str] = []
    for value in values:
        if not isinstance(value, str) or not value:
            raise UsageError(f"{field}: {value!r} is not a non-empty string")
        if "\x00" in value:
            raise UsageError(f"{field}: {value!r} contains a NUL character")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError(f"{field}: {value!r} is not valid Unicode") from None
        if value not in checked:
            checked.append(value)
    return tuple(checked)


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        raise UsageError(
            f"policy.timezone: {name!r} is not an IANA time zone name (e.g. Europe/Berlin)"
        ) from None


def _check_rules_against_schedule(schedule: Schedule, retention: Retention) -> None:
    if schedule.frequency == "daily":
        if retention.daily is None:
            raise UsageError("retention.daily: required with a daily schedule")
        return
    if retention.daily is not None:
        raise UsageError(
            "retention.daily: not allowed with a weekly schedule; its points are kept by "
            "retention.weekly"
        )
    if retention.weekly is None:
        raise UsageError("retention.weekly: required with a weekly schedule")
    scheduled = set(schedule.days)
    named = f"schedule.days: {weekday_names(schedule.days)}"
    _check_scheduled_weekdays("retention.weekly", retention.weekly.days_of_week, scheduled, named)
    missing = sorted(scheduled - set(retention.weekly.days_of_week))
    if missing:
        raise UsageError(
            f"retention.weekly.days_of_week: a weekly schedule keeps every scheduled day "
            f"({named}); missing: {weekday_names(missing)}"
        )
    for path, rule in (
        ("retention.monthly", retention.monthly),
        ("retention.yearly", retention.yearly),
    ):
        if rule is None:
            continue
        if rule.days_of_month:
            raise UsageError(
                f"{path}.days_of_month: not allowed with a weekly schedule, which runs on days of "
                "the week; choose weeks_of_month with days_of_week"
            )
        _check_scheduled_weekdays(path, rule.days_of_week, scheduled, named)


def _check_scheduled_weekdays(
    path: str, days: tuple[int, ...], scheduled: set[int], named: str
) -> None:
    never = [d for d in days if d not in scheduled]
    if never:
        raise UsageError(
            f"{path}.days_of_week: the schedule never runs on {weekday_names(never)} ({named})"
        )
