"""A machine's recovery points by calendar day and time: Recover Data's calendar, as MARS shows it
(days with points in bold; a day's points by time).

`points_by_day(points, zone)` groups the points by their local date in `zone` (oldest first within
a day); `month_grid(year, month)` is the month's weeks, Monday first, with None outside the month;
`nearby_months` the months before and after, for paging.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from cairn.vault.points import RecoveryPoint


@dataclass(frozen=True, slots=True)
class PointTime:
    id: str
    time: datetime  # local, in the zone asked for
    trigger: str
    status: str
    files: int
    bytes: int


def points_by_day(points: Iterable[RecoveryPoint], zone: ZoneInfo) -> dict[date, list[PointTime]]:
    days: dict[date, list[PointTime]] = {}
    for p in sorted(points, key=lambda p: (p.time, p.id)):
        local = p.time.astimezone(zone)
        days.setdefault(local.date(), []).append(
            PointTime(p.id, local, p.trigger, p.status, p.stats.files, p.stats.bytes)
        )
    return days


def month_grid(year: int, month: int) -> list[list[date | None]]:
    """The weeks of the month, Monday first; days outside the month are None."""
    weeks = calendar.Calendar(firstweekday=0).monthdatescalendar(year, month)
    return [[d if d.month == month else None for d in week] for week in weeks]


def nearby_months(year: int, month: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """The months before and after (year, month)."""
    before = (year - 1, 12) if month == 1 else (year, month - 1)
    after = (year + 1, 1) if month == 12 else (year, month + 1)
    return before, after
