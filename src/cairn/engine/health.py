"""A machine's health: what `cairn status`, `cairn agent status` and the console show.

    last success    the newest recovery point in the vault (every point is a good one)
    last failure    the newest failed backup job in the agent's history (CAIRN_HOME/jobs.sqlite),
                    with its reason; "failing" while no recovery point is newer than it
    stale           once two scheduled slots have passed without a good point: the slots counted
                    are those after the newest point, after the policy's start date and after the
                    machine registered (a new policy or a new machine is not stale at once)
    next run        the schedule's next slot (none while protection is stopped)
    protection      "on", or stopped (engine/protection.py): a stopped machine is never stale
    vault usage     the bytes this machine's store takes in the vault, and the whole vault's
    critical        the critical operations the vault recorded in the last 30 days (the newest
                    10: protection stopped, data deleted, retention lowered, PIN locked, ...)

`assess` is pure (`now` comes in); `machine_health` gathers its inputs from CAIRN_HOME and the
vault. A machine is healthy when it has a policy, is neither stale nor failing, and its vault can
be read; `cairn status` exits 0 then, else 3.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from cairn.core.errors import CairnError, StorageError
from cairn.engine.home import Home
from cairn.engine.slots import JOBS_DB
from cairn.policy import Policy
from cairn.policy.schedule import runs_after, runs_between
from cairn.policy.wallclock import resolve
from cairn.vault.guards import Event
from cairn.vault.repository import Repository

CRITICAL_SHOWN = timedelta(days=30)
CRITICAL_MAX = 10
STALE_SLOTS = 2
"""Scheduled slots passed without a good point that make a machine stale."""


@dataclass(frozen=True, slots=True)
class Failure:
    job_id: str
    kind: str
    trigger: str
    at: datetime
    reason: str
    slot: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "job": self.job_id,
            "kind": self.kind,
            "trigger": self.trigger,
            "at": self.at.isoformat(),
            "reason": self.reason,
            "slot": self.slot,
        }


@dataclass(frozen=True, slots=True)
class Usage:
    machine_bytes: int
    vault_bytes: int
    points: int


@dataclass(frozen=True, slots=True)
class Health:
    machine: str
    healthy: bool
    problems: tuple[str, ...]
    last_success: datetime | None
    last_success_point: str | None
    last_failure: Failure | None
    failing: bool
    stale: bool
    slots_without_point: int
    next_run: datetime | None
    protection: str
    usage: Usage | None = None
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    critical: tuple[Event, ...] = ()  # the critical operations of the last CRITICAL_SHOWN

    def to_json(self) -> dict[str, Any]:
        return {
            "machine": self.machine,
            "healthy": self.healthy,
            "problems": list(self.problems),
            "last_success": self.last_success.isoformat() if self.last_success else None,
            "last_success_point": self.last_success_point,
            "last_failure": self.last_failure.to_json() if self.last_failure else None,
            "failing": self.failing,
            "stale": self.stale,
            "slots_without_point": self.slots_without_point,
            "next_run": self.next_run.isoformat() if self.next_run else None,
            "protection": self.protection,
            "machine_bytes": self.usage.machine_bytes if self.usage else None,
            "vault_bytes": self.usage.vault_bytes if self.usage else None,
            "points": self.usage.points if self.usage else None,
            "checked_at": self.checked_at.isoformat(),
            "critical_operations": [
                {
                    "time": e.time.isoformat(),
                    "operation": e.operation,
                    "detail": e.detail,
                    "host": e.host,
                }
                for e in self.critical
            ],
        }


def assess(
    *,
    machine: str,
    policy: Policy | None,
    now: datetime,
    last_point: tuple[str, datetime] | None,
    last_failure: Failure | None,
    registered: datetime | None = None,
    protection: str = "on",
    usage: Usage | None = None,
    vault_problem: str | None = None,
    critical: tuple[Event, ...] = (),
) -> Health:
    """The health of one machine at `now`, from facts gathered elsewhere (pure)."""
    problems: list[str] = []
    success = last_point[1] if last_point else None
    failing = last_failure is not None and (success is None or last_failure.at > success)
    if failing and last_failure is not None:
        problems.append(
            f"the last backup failed ({last_failure.at.isoformat(timespec='seconds')}):"
            f" {last_failure.reason}"
        )
    protected = protection == "on"
    passed = 0
    next_run = None
    if policy is None:
        if protected:
            problems.append("no backup policy is set: `cairn policy set --file policy.toml`")
    elif protected:
        passed = slots_without_point(policy, now, success, registered)
        following = runs_after(policy, now, 1)
        next_run = following[0].time if following else None
    stale = passed >= STALE_SLOTS
    if stale:
        since = f"since {success.isoformat(timespec='seconds')}" if success else "ever"
        problems.append(
            f"stale: {passed} scheduled backups passed without a recovery point {since}"
        )
    if vault_problem is not None:
        problems.append(vault_problem)
    return Health(
        machine=machine,
        healthy=not problems,
        problems=tuple(problems),
        last_success=success,
        last_success_point=last_point[0] if last_point else None,
        last_failure=last_failure,
        failing=failing,
        stale=stale,
        slots_without_point=passed,
        next_run=next_run,
        protection=protection,
        usage=usage,
        checked_at=now,
        critical=critical,
    )


def slots_without_point(
    policy: Policy, now: datetime, last_success: datetime | None, registered: datetime | None
) -> int:
    """Scheduled slots at or before `now` that came after the newest good point (and after the
    policy's start and the registration)."""
    start = resolve(datetime.combine(policy.start, time()), policy.zone)
    anchor = max(t for t in (start, registered, last_success) if t is not None)
    # A point is taken a moment after its slot's instant: slots strictly after the point count.
    count = 0
    step = timedelta(days=8)  # more than a weekly schedule's gap (every N weeks: up to 28 days)
    cursor = anchor + timedelta(microseconds=1)
    end = now + timedelta(microseconds=1)
    while cursor < end:
        window = min(cursor + step * 4, end)
        count += len(runs_between(policy, cursor, window))
        cursor = window
    return count


def last_failed_backup(home: Home) -> Failure | None:
    """The newest failed backup job in the agent's history (None if the agent never ran)."""
    path = home.path / JOBS_DB
    if not path.exists():
        return None
    try:
        db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as e:
        raise CairnError(f"cannot read the agent's job history in {path}: {e}") from None
    try:
        row = db.execute(
            "SELECT id, kind, trigger, finished, error, slot FROM jobs"
            " WHERE kind = 'backup' AND state = 'failed' AND finished IS NOT NULL"
            " ORDER BY finished DESC LIMIT 1"
        ).fetchone()
    except sqlite3.Error as e:
        raise CairnError(f"cannot read the agent's job history in {path}: {e}") from None
    finally:
        db.close()
    if row is None:
        return None
    job_id, kind, trigger, finished, error, slot = row
    at = datetime.strptime(finished, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return Failure(job_id, kind, trigger, at, error or "no message", slot)


def failed_jobs(
    home: Home, kinds: tuple[str, ...] = ("prune", "check", "restore")
) -> list[Failure]:
    """For each of `kinds`, its newest finished job if that one failed (the alerts' "<kind>
    failed" conditions: open until a later job of the kind completes)."""
    path = home.path / JOBS_DB
    if not path.exists():
        return []
    try:
        db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            rows = [
                db.execute(
                    "SELECT id, kind, trigger, finished, error, slot, state FROM jobs"
                    " WHERE kind = ? AND finished IS NOT NULL AND state != 'cancelled'"
                    " ORDER BY finished DESC LIMIT 1",
                    (kind,),
                ).fetchone()
                for kind in kinds
            ]
        finally:
            db.close()
    except sqlite3.Error as e:
        raise CairnError(f"cannot read the agent's job history in {path}: {e}") from None
    out = []
    for row in rows:
        if row is None or row[6] != "failed":
            continue
        job_id, kind, trigger, finished, error, slot, _ = row
        at = datetime.strptime(finished, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        out.append(Failure(job_id, kind, trigger, at, error or "no message", slot))
    return out


def recent_critical(repo: Repository, now: datetime) -> tuple[Event, ...]:
    try:
        events = repo.guards.events()
    except CairnError:
        return ()  # a damaged record must not hide the rest of the health (check names it)
    return tuple(e for e in events if e.time > now - CRITICAL_SHOWN)[-CRITICAL_MAX:]


def vault_usage(repo: Repository) -> Usage:
    """Bytes of this machine's store and of the whole vault (one listing), and its points."""
    mine = repo.layout.root + "/"
    points = repo.layout.prefix("points")
    machine_bytes = vault_bytes = count = 0
    for info in repo.store.list(""):
        vault_bytes += info.size
        if info.name.startswith(mine):
            machine_bytes += info.size
            if info.name.startswith(points):
                count += 1
    return Usage(machine_bytes, vault_bytes, count)


def machine_health(
    home: Home,
    repo: Repository | None,
    policy: Policy | None,
    now: datetime,
    *,
    protection: str = "on",
    open_problem: str | None = None,
    usage: bool = True,
) -> Health:
    """This machine's health. `repo` None: the vault could not be opened (`open_problem` says
    why). `usage` False skips the listing of the whole vault (the agent's alert checks)."""
    reg = home.registration()
    registered = datetime.fromisoformat(reg.registered)
    failure = last_failed_backup(home)
    last_point: tuple[str, datetime] | None = None
    used = None
    problem = None
    critical: tuple[Event, ...] = ()
    if repo is None:
        problem = open_problem or "the vault cannot be opened"
    else:
        try:
            points = [
                p for p in repo.list_points(on_damage=lambda _, m: None) if p.status != "damaged"
            ]
            if points:
                newest = max(points, key=lambda p: p.time)
                last_point = (newest.id, newest.time)
            used = vault_usage(repo) if usage else None
            if usage:
                critical = recent_critical(repo, now)
        except StorageError as e:
            problem = f"the vault cannot be read: {e}"
    return assess(
        machine=reg.machine,
        policy=policy,
        now=now,
        last_point=last_point,
        last_failure=failure,
        registered=registered,
        protection=protection,
        usage=used,
        vault_problem=problem,
        critical=critical,
    )
