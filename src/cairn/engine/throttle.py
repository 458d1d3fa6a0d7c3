"""The machine's throttle setting, kept in CAIRN_HOME beside the policy, and its application to
the vault's store (docs/throttle.md).

    CAIRN_HOME/throttle.json   throttle_to_json: {"enabled": false}, or work hours, work days,
                               work and other rates (bits per second) and the zone

As MARS does, Cairn throttles network traffic only: a remote vault (azure://, s3://) is throttled
for every job that opens the repository (`throttle_store`, called by `session.open_repository`);
a local vault (a folder, a mounted disk) never is. A change of the setting applies to the jobs
that start after it; a running job switches between the work rate and the other rate at the
work-hours boundary.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from cairn.core.clock import Clock
from cairn.core.errors import CairnError, NotRegistered, UsageError
from cairn.engine.home import Home, write_private
from cairn.fs.timezone import machine_timezone
from cairn.policy import Throttle, throttle_from_flags, throttle_from_json, throttle_to_json
from cairn.storage.blobstore import BlobStore
from cairn.storage.location import is_remote
from cairn.storage.throttled import ThrottledBlobStore

THROTTLE_FILE = "throttle.json"


def load_throttle(home: Home) -> Throttle | None:
    """The throttle in force; None when it is off (or was never set)."""
    path = home.path / THROTTLE_FILE
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError:
        raise CairnError(f"{path} is damaged: set the throttle again") from None
    if not isinstance(doc, dict):
        raise CairnError(f"{path} is damaged: set the throttle again")
    try:
        return throttle_from_json(doc)
    except UsageError as e:
        raise CairnError(f"{path} holds a setting this Cairn refuses ({e}): set it again") from None


def set_throttle(
    home: Home,
    *,
    off: bool = False,
    work_hours: str | None = None,
    work_days: str | None = None,
    work_rate: str | None = None,
    other_rate: str | None = None,
    timezone: str | None = None,
) -> Throttle | None:
    """Turn the throttle off, or on / change it from `cairn throttle set`'s flags (as typed).

    With the throttle off, every one of work hours, work days, work rate and other rate is
    required; with it on, the ones given replace the stored ones. `UsageError` (exit 2) names a
    bad flag, its value and the allowed range. Nothing is written unless the whole setting is good.
    """
    given = (work_hours, work_days, work_rate, other_rate, timezone)
    if off:
        if any(v is not None for v in given):
            raise UsageError("--off turns throttling off: give it alone")
        new = None
    else:
        new = throttle_from_flags(
            load_throttle(home),
            work_hours=work_hours,
            work_days=work_days,
            work_rate=work_rate,
            other_rate=other_rate,
            timezone=timezone,
            default_timezone=machine_timezone(),
        )
    doc = throttle_to_json(new)
    write_private(home.path / THROTTLE_FILE, json.dumps(doc, indent=1).encode() + b"\n")
    return new


@dataclass(frozen=True, slots=True)
class ThrottleStatus:
    """What `cairn throttle show` says: the setting, the limit now, and whether it applies."""

    throttle: Throttle | None
    now: datetime
    vault: str | None  # None: not registered
    vault_remote: bool | None
    limit_now_bps: int | None
    work_hours_now: bool | None
    next_change: datetime | None

    @property
    def applies(self) -> bool:
        return self.throttle is not None and self.vault_remote is True


def throttle_show(home: Home, clock: Clock) -> ThrottleStatus:
    throttle = load_throttle(home)
    now = clock.now()
    try:
        vault: str | None = home.registration().vault
    except NotRegistered:
        vault = None
    remote = None if vault is None else is_remote(vault)
    if throttle is None:
        return ThrottleStatus(None, now, vault, remote, None, None, None)
    return ThrottleStatus(
        throttle,
        now,
        vault,
        remote,
        throttle.limit_at(now),
        throttle.in_work_hours(now),
        throttle.next_change(now).astimezone(throttle.zone),
    )


class RateSchedule:
    """The rate in force for a running job, in bytes per second: `Throttle.rate_at(now)`, worked
    out again only at `Throttle.next_change` (or if the clock went back), so the many calls of the
    token bucket cost a clock read. Picklable (no closure), so it can go to a spawned worker."""

    def __init__(self, throttle: Throttle, clock: Clock) -> None:
        self.throttle = throttle
        self.clock = clock
        self._cached: tuple[datetime, datetime, float] | None = None

    def __call__(self) -> float:
        now = self.clock.now()
        cached = self._cached
        if cached is None or not cached[0] <= now < cached[1]:
            cached = (now, self.throttle.next_change(now), self.throttle.rate_at(now))
            self._cached = cached
        return cached[2]


def throttle_store(home: Home, store: BlobStore, location: str, clock: Clock) -> BlobStore:
    """`store`, throttled if the throttle is on and `location` is a remote vault."""
    throttle = load_throttle(home)
    if throttle is None or not is_remote(location):
        return store
    return ThrottledBlobStore(store, RateSchedule(throttle, clock))
