"""A month of recovery points, as MARS's Recover Data wizard shows them: a grid of days, those
with points in bold. Shared by the dashboard and the Recover Data wizard."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Day:
    day: date | None  # None: a cell outside the month
    points: int


@dataclass(frozen=True)
class Month:
    first: date
    weeks: list[list[Day]]
    previous: str  # YYYY-MM
    following: str

    @property
    def title(self) -> str:
        return self.first.strftime("%B %Y")


def parse_month(text: str | None, default: date) -> date:
    """The first day of `text` (YYYY-MM); `default`'s month when missing or not a month."""
    if text:
        try:
            year, month = (int(x) for x in text.split("-", 1))
            return date(year, month, 1)
        except ValueError:
            pass
    return default.replace(day=1)


def month_view(first: date, days: dict[date, int]) -> Month:
    weeks = [
        [Day(d, days.get(d, 0)) if d.month == first.month else Day(None, 0) for d in week]
        for week in calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
    ]
    prev_month = (first.replace(day=1) - date.resolution).replace(day=1)
    next_month = (first.replace(day=28) + 4 * date.resolution).replace(day=1)
    return Month(first, weeks, f"{prev_month:%Y-%m}", f"{next_month:%Y-%m}")
