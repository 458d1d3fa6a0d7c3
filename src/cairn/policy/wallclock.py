"""Wall-clock arithmetic in a named zone: local times to instants, and calendar steps.

Schedules and retention speak in wall-clock times ("18:00 every day", "kept 12 months"), so the
arithmetic happens on naive local datetimes and only the result becomes an instant:

- `resolve` turns a local time into an instant: a time that does not exist (the hour skipped when
  clocks go forward) becomes the first valid instant after it (02:30 -> 03:00 in Europe/Berlin), a
  time that occurs twice (the hour repeated when clocks go back) becomes its first occurrence.
- `add_months` steps whole months and clamps the day to the month's end (31 Jan + 1 month =
  28 Feb; 29 Feb + 12 months = 28 Feb).

Results beyond the calendar's end (year 9999) are clamped to `FAR_FUTURE`.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

FAR_FUTURE = datetime.max.replace(tzinfo=UTC)
"""An instant later than any expiry the calendar can express."""

_LATEST_LOCAL = datetime.max - timedelta(days=2)


def resolve(local: datetime, zone: ZoneInfo) -> datetime:
    """The instant (aware, in `zone`) at which the wall clock of `zone` first shows `local`.

    A nonexistent local time resolves to the first valid instant after it; an ambiguous one to
    its first occurrence.
    """
    if local.tzinfo is not None:
        raise ValueError("resolve takes a naive local datetime")
    if local > _LATEST_LOCAL:
        return FAR_FUTURE
    first = local.replace(tzinfo=zone, fold=0)
    if _exists(first):
        return first
    # In a gap, fold=0 reads the local time with the offset before the transition (an instant at
    # or after it) and fold=1 with the offset after (an instant before it): the transition lies
    # between, and it is the first valid instant after `local`.
    after = first.astimezone(UTC)
    before = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    offset_after = after.astimezone(zone).utcoffset()
    low, high = 0, int((after - before).total_seconds())
    while low < high:
        middle = (low + high) // 2
        if (before + timedelta(seconds=middle)).astimezone(zone).utcoffset() == offset_after:
            high = middle
        else:
            low = middle + 1
    return (before + timedelta(seconds=low)).astimezone(zone)


def _exists(aware: datetime) -> bool:
    """True if the wall clock of the zone really shows this local time at some instant."""
    back = aware.astimezone(UTC).astimezone(aware.tzinfo)
    return back.replace(tzinfo=None) == aware.replace(tzinfo=None)


def utc(moment: datetime) -> datetime:
    """The same instant in UTC: compare instants this way.

    Aware datetimes that share a `ZoneInfo` compare by wall clock (ignoring `fold`), and one in a
    repeated hour never equals a datetime in another zone; in UTC both are plain instants.
    """
    if moment.tzinfo is None:
        raise ValueError(f"an instant must be timezone-aware, not {moment}")
    return moment.astimezone(UTC)


def local_time(instant: datetime, zone: ZoneInfo) -> datetime:
    """What the wall clock of `zone` shows at `instant` (naive)."""
    if instant.tzinfo is None:
        raise ValueError("local_time takes an aware datetime")
    return instant.astimezone(zone).replace(tzinfo=None)


def days_in_month(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def add_months(local: datetime, months: int) -> datetime:
    """`local` plus whole months, the day clamped to the month's end; `datetime.max` past 9999."""
    index = local.year * 12 + (local.month - 1) + months
    year, month0 = divmod(index, 12)
    if year > 9999:
        return datetime.max
    day = min(local.day, days_in_month(year, month0 + 1))
    return local.replace(year=year, month=month0 + 1, day=day)


def add_days(local: datetime, days: int) -> datetime:
    """`local` plus whole days of wall clock; `datetime.max` past 9999."""
    try:
        return local + timedelta(days=days)
    except OverflowError:
        return datetime.max


def end_of_day(day: date, zone: ZoneInfo) -> datetime:
    """The instant the date after `day` begins in `zone`: the end of `day`."""
    if day >= date.max:
        return FAR_FUTURE
    return resolve(datetime.combine(day + timedelta(days=1), datetime.min.time()), zone)
