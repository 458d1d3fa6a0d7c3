"""A backup of the machine, decided once for every caller: the CLI in its own process and the agent.

`back_up` takes a `BackupRequest` (explicit paths or the policy's items, a trigger, a slot, a
retain-until date) and decides what the recovery point records for retention before the engine's
`backup` runs:

- the items: the request's paths, else the policy's; the exclusions: the policy's (whenever a
  policy is set, explicit paths included: docs/policy.md) and then the request's;
- the retain-until date, refused (`UsageError`, exit 2) if it is over already in the policy's zone;
- for Back Up Now of the policy's items, the failed or missed slot it takes the place of
  (`policy.substitute_for`), with or without a retain-until date: retention then keeps the point
  by the slot's rules and by the date, whichever is longer (`policy.retention`);
- a scheduled or late run whose items are all missing fails (`MissingItems`), so the job history
  shows it as a failure, never as a backup that found nothing changed; one that lacks only some
  of them backs up the others and reports the missing ones (`BackupResult.missing_items`): the
  agent records that job as failed too (`missing_items_message`), naming the point it wrote.

What became of each scheduled slot is the agent's record, read by `engine.slots`, so the CLI's own
process decides exactly as the agent does.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from cairn.core.errors import CairnError, HookFailed, UsageError
from cairn.core.events import Reporter
from cairn.engine import offline, settings
from cairn.engine.backup import BackupOptions, BackupResult, backup
from cairn.engine.home import Home
from cairn.engine.hooks import HookRun, describe, run_hook
from cairn.engine.slots import SUBSTITUTION_LOOKBACK, recorded_slots
from cairn.fs.timezone import machine_timezone
from cairn.policy import Policy, SlotOutcome, substitute_for
from cairn.policy.hooks import NO_HOOKS
from cairn.policy.snapshot import NO_SNAPSHOT, SnapshotRule
from cairn.policy.wallclock import end_of_day, local_time
from cairn.vault.repository import Repository


class MissingItems(CairnError):
    """A scheduled backup found none of the policy's items: the job fails (exit 1)."""


@dataclass(frozen=True, slots=True)
class BackupRequest:
    paths: list[str] = field(default_factory=list)
    """Explicit paths; empty: the policy's items."""
    excludes: list[str] = field(default_factory=list)
    trigger: str = "on-demand"
    slot: str | None = None
    retain_until: str | None = None
    workers: int = 2


@dataclass(frozen=True, slots=True)
class Plan:
    """What the recovery point will record: its items, exclusions and retention facts."""

    items: list[str]
    excludes: list[str]
    substitutes: str | None
    retain_until: str | None
    # A scheduled run's items that do not exist (some, not all): the run fails after backing up
    # the others, so the job history never shows "completed" for a point that lacks an item.
    missing: tuple[str, ...] = ()


def parse_retain_until(text: str, policy: Policy | None, now: datetime) -> date:
    """The date of `--retain-until`; a bad date, or one already over in the policy's zone (the
    machine's without a policy), is refused with `UsageError` naming the earliest allowed date."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--retain-until {text!r} is not a date like 2027-01-31") from None
    zone = policy.zone if policy is not None else ZoneInfo(machine_timezone())
    if end_of_day(day, zone) <= now:
        earliest = local_time(now, zone).date()
        raise UsageError(
            f"--retain-until {day.isoformat()} is over already in {zone.key}: the point would be"
            f" deleted by the next prune; the earliest allowed date is {earliest.isoformat()}"
        )
    return day


def substitutes_now(
    repo: Repository, policy: Policy, now: datetime, history: Iterable[SlotOutcome]
) -> str | None:
    """The slot a Back Up Now of the policy's items taken `now` takes the place of, if any."""
    history = list(history)
    if not history:
        return None
    since = now - SUBSTITUTION_LOOKBACK
    items = sorted(os.path.abspath(i) for i in policy.items)
    # Earlier Back Ups Now of the policy's items (one of other paths takes no slot's place).
    earlier = [
        p.time
        for p in repo.list_points()
        if p.trigger == "on-demand" and p.time >= since and sorted(p.paths) == items
    ]
    slot = substitute_for(policy, now, history, earlier)
    return str(slot) if slot is not None else None


def plan(
    home: Home,
    repo: Repository,
    request: BackupRequest,
    now: datetime,
    policy: Policy | None = None,
) -> Plan:
    """Decide what the request's recovery point records (see the module doc); `policy`: the
    machine's (read from CAIRN_HOME when not given)."""
    if policy is None:
        policy = settings.load_policy(home)
    items = list(request.paths)
    if not items:
        if policy is None:
            raise UsageError(
                "name the files and folders to back up, or set a backup policy"
                " (`cairn policy set`) whose items a plain `cairn backup` protects"
            )
        items = list(policy.items)
    excludes = list(request.excludes)
    if policy is not None:
        excludes = list(policy.exclude) + excludes
    retain_until = request.retain_until
    if retain_until is not None:
        if request.trigger != "on-demand":
            raise UsageError("only Back Up Now takes a retain-until date")
        retain_until = parse_retain_until(retain_until, policy, now).isoformat()
    substitutes = None
    if request.trigger == "on-demand" and policy is not None and not request.paths:
        history = recorded_slots(home, now - SUBSTITUTION_LOOKBACK)
        substitutes = substitutes_now(repo, policy, now, history)
    missing: list[str] = []
    if request.trigger != "on-demand":
        missing = [i for i in items if not os.path.lexists(i)]
        if missing and len(missing) == len(items):
            raise MissingItems(
                f"none of the policy's items exists: {', '.join(missing)} (a drive not"
                " attached, or a folder moved?); attach it, or change the policy's items"
            )
    return Plan(items, excludes, substitutes, retain_until, tuple(missing))


def back_up(
    home: Home,
    repo: Repository,
    request: BackupRequest,
    reporter: Reporter | None = None,
    policy: Policy | None = None,
) -> BackupResult:
    """Plan the backup (`plan`), then run it between the policy's hooks (for a backup of the
    policy's items: policy/hooks.py): the one path every front end takes. With an offline
    initial backup in the policy, the first backup goes to the staging folder, and backups wait
    (`AwaitingImport`) until it is imported (engine/offline.py)."""
    reporter = reporter or Reporter()
    if policy is None:
        policy = settings.load_policy(home)
    seeding = offline.seeding(home, repo, policy)
    decided = plan(home, repo, request, repo.clock.now(), policy)
    of_policy = policy is not None and not request.paths
    hooks = policy.hooks if policy is not None and of_policy else NO_HOOKS
    snapshot = policy.snapshot if policy is not None and of_policy else NO_SNAPSHOT
    env = {"CAIRN_MACHINE": repo.machine}
    runs: list[HookRun] = []
    for hook in hooks.pre:
        reporter.stop_if_cancelled()
        done = run_hook(hook, "pre", env, reporter.cancel)
        runs.append(done)
        if not done.ok and hook.required:
            raise HookFailed(f"{describe(done)}: the backup did not run, no recovery point")
        if not done.ok:
            reporter.warn("", f"{describe(done)} (optional: the backup went on)")
    try:
        result = _run(home, repo, request, decided, reporter, seeding, snapshot)
    except BaseException:
        after = {**env, "CAIRN_BACKUP_STATUS": "failed", "CAIRN_RECOVERY_POINT": ""}
        for hook in hooks.post:
            runs.append(run_hook(hook, "post", after))
        raise
    status = "completed-with-warnings" if result.warnings else "completed"
    after = {**env, "CAIRN_BACKUP_STATUS": status, "CAIRN_RECOVERY_POINT": result.point.id}
    for hook in hooks.post:
        done = run_hook(hook, "post", after)
        runs.append(done)
        if not done.ok:
            reporter.warn(
                "", f"{describe(done)} (the recovery point {result.point.id[:8]} is kept)"
            )
    result.warnings = len(reporter.warnings)
    result.hooks = [r.to_json() for r in runs]
    return result


def _run(
    home: Home,
    repo: Repository,
    request: BackupRequest,
    decided: Plan,
    reporter: Reporter,
    seeding: offline.OfflineState | None,
    snapshot: SnapshotRule = NO_SNAPSHOT,
) -> BackupResult:
    options = BackupOptions(
        decided.items,
        decided.excludes,
        trigger=request.trigger,
        slot=request.slot,
        substitutes=decided.substitutes,
        retain_until=decided.retain_until,
        workers=request.workers,
        snapshot=snapshot,
    )
    if seeding is not None:
        result = offline.stage(home, repo, seeding, options, reporter)
    else:
        result = backup(repo, options, reporter)
    return replace(result, missing_items=decided.missing)


def missing_items_message(result: BackupResult) -> str:
    """The failure of a scheduled run that lacked some of the policy's items."""
    return (
        f"{len(result.missing_items)} of the policy's items did not exist:"
        f" {', '.join(result.missing_items)} (a drive not attached, or a folder moved?); recovery"
        f" point {result.point.id[:8]} holds the other items. Attach it, or change the policy's items"
    )
