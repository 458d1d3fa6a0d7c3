"""When scheduled backups run: slots, and the runs that fill them.

A *slot* is a scheduled local date and time in the policy's zone (`Slot`, written
``2026-12-07T18:00[Europe/Berlin]``); it is what a recovery point records. A *run* is the instant
a slot runs at (`Run`):

- The schedule runs on every date from the policy's `start` (daily), or on its `days` of every
  `every_weeks`-th week, the weeks counted Monday to Sunday from the week containing `start`.
- A slot's time that does not exist on a DST day runs at the first valid instant after it; one
  that occurs twice runs once, at its first occurrence (`wallclock.resolve`).
- Two slots that resolve to the same instant (both times inside one DST gap) make one run, which
  fills the earlier slot.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from cairn.policy.model import Policy
from cairn.policy.wallclock import local_time, resolve, utc

_SLOT = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})\[([^\[\]]+)\]")


@dataclass(frozen=True, slots=True, order=True)
class Slot:
    """A scheduled local date and time (naive, whole minutes) in the IANA zone `zone`."""

    local: datetime
    zone: str

    def __post_init__(self) -> None:
        if self.local.tzinfo is not None or self.local.second or self.local.microsecond:
            raise ValueError(f"a slot is a naive local time in whole minutes, not {self.local}")
        try:
            ZoneInfo(self.zone)
        except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(
                f"a slot's zone must be an IANA time zone, not {self.zone!r}"
            ) from None

    def __str__(self) -> str:
        return f"{self.key}[{self.zone}]"

    @property
    def key(self) -> str:
        """The local date and time, like ``2026-12-07T18:00``."""
        return self.local.strftime("%Y-%m-%dT%H:%M")

    @property
    def date(self) -> date:
        return self.local.date()

    def instant(self) -> datetime:
        """When the slot runs: its local time resolved in its zone (see the module doc)."""
        return resolve(self.local, ZoneInfo(self.zone))

    @classmethod
    def parse(cls, text: str) -> Slot:
        """Read ``2026-12-07T18:00[Europe/Berlin]``, as `str(slot)` writes it."""
        match = _SLOT.fullmatch(text)
        if match is None:
            raise ValueError(f"{text!r} is not a slot like 2026-12-07T18:00[Europe/Berlin]")
        return cls(datetime.fromisoformat(match[1]), match[2])


@dataclass(frozen=True, slots=True)
class Run:
    """One scheduled run: the instant (aware, in the policy's zone) and the slot it fills."""

    time: datetime
    slot: Slot


def runs_on(policy: Policy, day: date) -> bool:
    """True if the schedule has slots on the local date `day`."""
    if day < policy.start:
        return False
    schedule = policy.schedule
    if schedule.frequency == "daily":
        return True
    if day.weekday() not in schedule.days:
        return False
    weeks = (_monday(day) - _monday(policy.start)).days // 7
    return weeks % schedule.every_weeks == 0


def iter_runs(policy: Policy, start: datetime) -> Iterator[Run]:
    """The runs at or after `start` (aware), in order, without end."""
    _check_aware(start, "start")
    zone = policy.zone
    first = utc(start)
    # A slot resolves at or after its local time, never before; start a day early for slots in
    # a gap that crosses midnight.
    day = max(local_time(start, zone).date() - timedelta(days=1), policy.start)
    previous: datetime | None = None
    while True:
        if runs_on(policy, day):
            for t in policy.schedule.times:
                slot = Slot(datetime.combine(day, t), policy.timezone)
                instant = resolve(slot.local, zone)
                moment = utc(instant)
                if moment == previous:
                    continue
                previous = moment
                if moment >= first:
                    yield Run(instant, slot)
        if day == date.max:
            return
        day += timedelta(days=1)


def runs_after(policy: Policy, after: datetime, count: int) -> list[Run]:
    """The next `count` runs strictly after `after` (aware)."""
    if count < 0:
        raise ValueError("count must not be negative")
    _check_aware(after, "after")
    runs: list[Run] = []
    if count == 0:
        return runs
    for run in iter_runs(policy, after):
        if utc(run.time) > utc(after):
            runs.append(run)
            if len(runs) == count:
                break
    return runs


def next_runs(policy: Policy, after: datetime, count: int) -> list[datetime]:
    """The next `count` run times strictly after `after`, aware, in the policy's zone."""
    return [run.time for run in runs_after(policy, after, count)]


def runs_between(policy: Policy, start: datetime, end: datetime) -> list[Run]:
    """The runs at or after `start` and before `end` (both aware)."""
    _check_aware(end, "end")
    runs: list[Run] = []
    for run in iter_runs(policy, start):
        if utc(run.time) >= utc(end):
            break
        runs.append(run)
    return runs


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _check_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, not {moment}")
