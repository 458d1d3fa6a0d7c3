"""Bandwidth throttling as MARS does it: one rate during work hours on work days, another the rest
of the time. A machine setting, applied by the engine to every byte sent to or read from a remote
vault (docs/throttle.md).

    Throttle    work hours (start-end, wall clock in the machine's zone), work days,
                work rate and other rate (bits per second, 512Kbps to 1023Mbps)

- Rates are bits per second with decimal prefixes, as MARS and network gear count them:
  1 Kbps = 1,000 bit/s and 1 Mbps = 1,000,000 bit/s, so 16Mbps is 2,000,000 bytes a second.
  Written `512Kbps`, `4Mbps`, `1.5Mbps` (`bps` in lower case: `MBps` would read as bytes).
- Work hours belong to the day they start on: `22:00-06:00` on work days `mon-fri` runs from
  Monday 22:00 to Tuesday 06:00, ..., Friday 22:00 to Saturday 06:00; `09:00-24:00` ends at
  midnight. A start equal to the end is refused (for one rate all day, give both rates the same
  value).
- Start and end are wall clock, resolved like schedule times across DST (`wallclock.resolve`): a
  time that does not exist is the first valid instant after it, a time that occurs twice is its
  first occurrence. Work hours of 01:00-09:00 in Berlin last 7 hours on the spring-forward day and
  9 on the autumn one.

`rate_at(now)` is the rate in force in bytes a second; `next_change(now)` the first instant after
`now` at which work hours begin or end, so a running job can switch at the boundary. `now` is
always passed in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Final
from zoneinfo import ZoneInfo

from cairn.core.errors import UsageError
from cairn.core.units import format_bitrate
from cairn.policy.model import WEEKDAYS
from cairn.policy.wallclock import resolve, utc

MIN_RATE_BPS: Final = 512_000
MAX_RATE_BPS: Final = 1_023_000_000
RATE_RANGE: Final = f"{format_bitrate(MIN_RATE_BPS)} to {format_bitrate(MAX_RATE_BPS)}"

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)bps\s*$")
_PREFIX = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_rate(text: str, field: str) -> int:
    """`4Mbps` -> 4000000 (bits per second); refused outside 512Kbps to 1023Mbps."""
    m = _RATE.match(text)
    if m is None:
        raise UsageError(
            f"{field}: {text!r} is not a rate like 512Kbps or 4Mbps (bits per second, decimal:"
            f" 1Mbps = 1,000,000 bit/s); allowed: {RATE_RANGE}"
        )
    try:
        value = Decimal(m.group(1)) * _PREFIX[m.group(2).lower()]
    except InvalidOperation:  # pragma: no cover - the pattern admits only plain decimals
        raise UsageError(f"{field}: {text!r} is not a rate like 4Mbps") from None
    bps = int(value)
    if value != bps or not MIN_RATE_BPS <= bps <= MAX_RATE_BPS:
        raise UsageError(f"{field}: {text.strip()} is out of range; allowed: {RATE_RANGE}")
    return bps


def check_rate(field: str, bps: object) -> int:
    """`bps` if it is a whole number of bits per second within the range; else `UsageError`."""
    if isinstance(bps, bool) or not isinstance(bps, int):
        raise UsageError(f"{field}: {bps!r} is not a whole number of bits per second")
    if not MIN_RATE_BPS <= bps <= MAX_RATE_BPS:
        shown = format_bitrate(bps) if bps > 0 else str(bps)
        raise UsageError(f"{field}: {shown} is out of range; allowed: {RATE_RANGE}")
    return bps


def parse_work_hours(text: str, field: str) -> tuple[time, time]:
    """`09:00-18:00` -> (09:00, 18:00); `22:00-06:00` crosses midnight; `24:00` ends at midnight."""
    m = _HOURS.match(text)
    if m is None:
        raise UsageError(f"{field}: {text!r} is not work hours like 09:00-18:00")
    sh, sm, eh, em = (int(g) for g in m.groups())
    if sh > 23 or sm > 59 or em > 59 or eh > 24 or (eh == 24 and em):
        raise UsageError(
            f"{field}: {text.strip()} is out of range; allowed: times from 00:00 to 23:59"
            " (24:00 as the end means midnight)"
        )
    start, end = time(sh, sm), time(eh % 24, em)
    if start == end:
        raise UsageError(
            f"{field}: {text.strip()} starts and ends at the same time; for one rate all day,"
            " give --work-rate and --other-rate the same value"
        )
    return start, end


def parse_work_days(text: str, field: str) -> tuple[int, ...]:
    """`mon-fri`, `mon,wed,fri`, `sat-sun`, `fri-mon` (a range may wrap past Sunday)."""
    days: set[int] = set()
    for part in (p.strip().lower() for p in text.split(",")):
        if not part:
            continue
        first, _, last = part.partition("-")
        try:
            a = WEEKDAYS.index(first.strip())
            b = WEEKDAYS.index(last.strip()) if last else a
        except ValueError:
            raise UsageError(
                f"{field}: {part!r} is not a day or a range of days; allowed: mon..sun,"
                " e.g. mon-fri or mon,wed,fri"
            ) from None
        days.update((a + i) % 7 for i in range((b - a) % 7 + 1))
    if not days:
        raise UsageError(f"{field}: name at least one day, e.g. mon-fri")
    return tuple(sorted(days))


def format_work_days(days: Iterable[int]) -> str:
    """(0, 1, 2, 3, 4) -> 'mon-fri'; (0, 2, 4) -> 'mon,wed,fri'."""
    runs: list[list[int]] = []
    for d in sorted(set(days)):
        if runs and runs[-1][-1] == d - 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{WEEKDAYS[run[0]]}-{WEEKDAYS[run[-1]]}")
        else:
            parts.extend(WEEKDAYS[d] for d in run)
    return ",".join(parts)


def format_work_hours(start: time, end: time) -> str:
    last = "24:00" if end == time(0) else end.strftime("%H:%M")
    return f"{start.strftime('%H:%M')}-{last}"


@dataclass(frozen=True, slots=True)
class Throttle:
    """The throttle in force. Rates in bits per second; times naive, wall clock in `timezone`."""

    work_start: time
    work_end: time
    work_days: tuple[int, ...]
    work_rate_bps: int
    other_rate_bps: int
    timezone: str

    def __post_init__(self) -> None:
        check_rate("work_rate", self.work_rate_bps)
        check_rate("other_rate", self.other_rate_bps)
        for t in (self.work_start, self.work_end):
            if t.tzinfo is not None or t.second or t.microsecond:
                raise UsageError(f"work_hours: {t} is not a time of day like 09:00")
        if self.work_start == self.work_end:
            raise UsageError("work_hours: the start and the end are the same time")
        days = tuple(sorted(set(self.work_days)))
        if not days or any(not 0 <= d <= 6 for d in days):
            raise UsageError(f"work_days: {self.work_days!r}: name days from mon to sun")
        object.__setattr__(self, "work_days", days)
        try:
            ZoneInfo(self.timezone)
        except (ValueError, KeyError, OSError):
            raise UsageError(
                f"timezone: {self.timezone!r} is not an IANA time zone name (e.g. Europe/Berlin)"
            ) from None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def crosses_midnight(self) -> bool:
        return self.work_end <= self.work_start

    def work_periods(self, first: date, last: date) -> list[tuple[datetime, datetime]]:
        """The work periods (UTC instants, start inclusive, end exclusive) that start on the
        work days from `first` to `last`. A period DST leaves empty is dropped."""
        zone = self.zone
        periods = []
        day = first
        while day <= last:
            if day.weekday() in self.work_days:
                end_day = day + timedelta(days=1) if self.crosses_midnight else day
                start = utc(resolve(datetime.combine(day, self.work_start), zone))
                end = utc(resolve(datetime.combine(end_day, self.work_end), zone))
                if end > start:
                    periods.append((start, end))
            day += timedelta(days=1)
        return periods

    def _around(self, now: datetime) -> list[tuple[datetime, datetime]]:
        today = utc(now).astimezone(self.zone).date()
        return self.work_periods(today - timedelta(days=1), today + timedelta(days=8))

    def in_work_hours(self, now: datetime) -> bool:
        moment = utc(now)
        return any(start <= moment < end for start, end in self._around(now))

    def limit_at(self, now: datetime) -> int:
        """The rate in force at `now`, in bits per second."""
        return self.work_rate_bps if self.in_work_hours(now) else self.other_rate_bps

    def rate_at(self, now: datetime) -> float:
        """The rate in force at `now`, in bytes per second."""
        return self.limit_at(now) / 8

    def next_change(self, now: datetime) -> datetime:
        """The first instant after `now` at which work hours begin or end (UTC)."""
        moment = utc(now)
        periods = self._around(now)
        working = any(s <= moment < e for s, e in periods)
        edges = sorted({t for period in periods for t in period if t > moment})
        for edge in edges:
            if any(s <= edge < e for s, e in periods) != working:
                return edge
        return moment + timedelta(days=7)  # unreachable with a work day a week; a safe re-check


def rate_at(throttle: Throttle | None, now: datetime) -> float | None:
    """Bytes per second in force at `now`; None when throttling is off."""
    return None if throttle is None else throttle.rate_at(now)


def throttle_from_flags(
    current: Throttle | None,
    *,
    work_hours: str | None = None,
    work_days: str | None = None,
    work_rate: str | None = None,
    other_rate: str | None = None,
    timezone: str | None = None,
    default_timezone: str,
) -> Throttle:
    """`cairn throttle set`'s flags over the setting in force: with none in force, every flag but
    `--timezone` is required; otherwise the flags given replace those fields."""
    given = {
        "--work-hours": work_hours,
        "--work-days": work_days,
        "--work-rate": work_rate,
        "--other-rate": other_rate,
    }
    if current is None:
        missing = [flag for flag, value in given.items() if value is None]
        if missing:
            raise UsageError(
                f"throttling is off: give {', '.join(missing)} to turn it on (e.g. --work-hours"
                " 09:00-18:00 --work-days mon-fri --work-rate 4Mbps --other-rate 100Mbps)"
            )
    elif all(value is None for value in given.values()) and timezone is None:
        raise UsageError(
            "nothing to change: give --work-hours, --work-days, --work-rate, --other-rate"
            " or --timezone (or --off)"
        )
    if work_hours is not None:
        start, end = parse_work_hours(work_hours, "--work-hours")
    if work_days is not None:
        days = parse_work_days(work_days, "--work-days")
    if work_rate is not None:
        work_bps = parse_rate(work_rate, "--work-rate")
    if other_rate is not None:
        other_bps = parse_rate(other_rate, "--other-rate")
    if current is not None:
        if work_hours is None:
            start, end = current.work_start, current.work_end
        if work_days is None:
            days = current.work_days
        if work_rate is None:
            work_bps = current.work_rate_bps
        if other_rate is None:
            other_bps = current.other_rate_bps
    return Throttle(
        work_start=start,
        work_end=end,
        work_days=days,
        work_rate_bps=work_bps,
        other_rate_bps=other_bps,
        timezone=timezone or (current.timezone if current else default_timezone),
    )


def throttle_to_json(throttle: Throttle | None) -> dict[str, object]:
    """The stored form (and `throttle show --json`'s core): `{"enabled": false}` when off."""
    if throttle is None:
        return {"enabled": False}
    return {
        "enabled": True,
        "work_hours": format_work_hours(throttle.work_start, throttle.work_end),
        "work_days": [WEEKDAYS[d] for d in throttle.work_days],
        "work_rate_bps": throttle.work_rate_bps,
        "other_rate_bps": throttle.other_rate_bps,
        "timezone": throttle.timezone,
    }


_KEYS = ("enabled", "work_hours", "work_days", "work_rate_bps", "other_rate_bps", "timezone")


def throttle_from_json(data: dict[str, object]) -> Throttle | None:
    """Read what `throttle_to_json` wrote; `UsageError` names a bad or unknown field."""
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        raise UsageError(f"unknown key {unknown[0]}; allowed: {', '.join(_KEYS)}")
    if data.get("enabled") is not True:
        if data.get("enabled") is False:
            return None
        raise UsageError(f"enabled: expected true or false, got {data.get('enabled')!r}")
    hours, days, zone = data.get("work_hours"), data.get("work_days"), data.get("timezone")
    if not isinstance(hours, str):
        raise UsageError(f"work_hours: expected text like 09:00-18:00, got {hours!r}")
    if not isinstance(days, list) or not all(isinstance(d, str) for d in days):
        raise UsageError(f"work_days: expected a list of days, got {days!r}")
    if not isinstance(zone, str):
        raise UsageError(f"timezone: expected an IANA zone name, got {zone!r}")
    start, end = parse_work_hours(hours, "work_hours")
    return Throttle(
        work_start=start,
        work_end=end,
        work_days=parse_work_days(",".join(days), "work_days"),
        work_rate_bps=check_rate("work_rate_bps", data.get("work_rate_bps")),
        other_rate_bps=check_rate("other_rate_bps", data.get("other_rate_bps")),
        timezone=zone,
    )
