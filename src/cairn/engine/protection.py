"""Guard rails: the security PIN, stopping and resuming protection, soft delete, and the record
(and alert) of every critical operation (docs/security.md says what each protects from).

- `cairn security pin` needs the passphrase (not only the key kept in CAIRN_HOME): whoever holds
  the machine alone cannot make one. A PIN is 6 digits, valid `PIN_VALID`, used once.
- While security is on (the default), a PIN is needed to delete backup data
  (`protection stop --delete-data`), to lower any retention (`policy set`), and to turn security
  off. The retention floors are the policy's limits (7 days, 4 weeks, 3 months, 1 year): no
  policy below them is ever accepted.
- `protection stop --retain-data` turns the schedule off (the agent reads CAIRN_HOME's copy of
  the state, `PROTECTION_FILE`); the points age out by the policy, the newest never.
  `--delete-data` soft-deletes every point: hidden, kept whole `SOFT_DELETE_KEEP`, restorable with
  `protection undelete`, then purged by prune. `protection resume` turns the schedule on again.
- Critical operations (protection stopped, data deleted, retention lowered, security
  turned off) are recorded in the vault (vault/guards.py, never rewritten) and alerted.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import datetime, timedelta

from cairn.core.errors import AppendOnly, CairnError, UsageError
from cairn.engine.alert_queue import deliver, notify
from cairn.engine.home import Home, write_private
from cairn.engine.prune import expired_by_policy
from cairn.policy import Policy
from cairn.policy.floors import retention_lowered
from cairn.vault import objectlock
from cairn.vault.guards import GuardState
from cairn.vault.points import RecoveryPoint
from cairn.vault.repository import Repository

log = logging.getLogger("cairn.protection")

PIN_VALID = timedelta(minutes=5)
PIN_TRIES = 5
PIN_LOCKOUT = timedelta(minutes=15)
SOFT_DELETE_KEEP = timedelta(days=14)
PROTECTION_FILE = "protection.json"


def local_state(home: Home) -> GuardState:
    """CAIRN_HOME's copy of the guard state (what the agent's scheduler reads)."""
    try:
        doc = json.loads((home.path / PROTECTION_FILE).read_text())
        return GuardState(
            bool(doc["security"]), str(doc["protection"]), str(doc["data"]), doc.get("since")
        )
    except FileNotFoundError:
        return GuardState()
    except (OSError, ValueError, KeyError, TypeError):
        raise CairnError(
            f"{home.path / PROTECTION_FILE} is damaged: `cairn protection resume` or stop again"
        ) from None


def _save(home: Home, repo: Repository, state: GuardState) -> None:
    repo.guards.set_state(state)  # the vault first: it is the record
    doc = {
        "security": state.security,
        "protection": state.protection,
        "data": state.data,
        "since": state.since,
    }
    write_private(home.path / PROTECTION_FILE, json.dumps(doc).encode() + b"\n")


def critical(home: Home, repo: Repository, operation: str, detail: str, now: datetime) -> None:
    """Record a critical operation in the vault and alert it (tried once now; the agent retries)."""
    repo.guards.record(operation, detail, now)
    try:
        if notify(home, repo.machine, operation, detail, now) is not None:
            deliver(home, now)
    except CairnError as e:  # the operation is done and recorded; the alert waits its retry
        log.warning("the alert for %s is not sent yet: %s", operation, e)


def issue_pin(repo: Repository, now: datetime) -> str:
    return repo.guards.issue_pin(now, PIN_VALID)


def require_pin(home: Home, repo: Repository, pin: str | None, now: datetime, what: str) -> None:
    """Spend `pin`, or refuse `what` (exit 2) naming the PIN and how to get one. After
    `PIN_TRIES` wrong PINs within `PIN_LOCKOUT`, every PIN issued is void and none is accepted
    until the oldest of those tries is `PIN_LOCKOUT` old (recorded and alerted): whoever holds
    the stored key but not the passphrase cannot guess one of 10^6 PINs through the commands."""
    if pin is None:
        raise UsageError(
            f"{what} needs a security PIN while security is on: run `cairn security pin` (it"
            " asks for the passphrase), then give --pin PIN within 5 minutes"
        )
    failures = repo.guards.pin_failures(now, PIN_LOCKOUT)
    if len(failures) >= PIN_TRIES:
        raise UsageError(_locked_out(failures))
    if pin.isdigit() and len(pin) == 6 and repo.guards.use_pin(pin, now):
        return
    repo.guards.pin_failed(now)
    failures.append(now)
    left = PIN_TRIES - len(failures)
    if left > 0:
        raise UsageError(
            "that security PIN is wrong, expired (5 minutes) or already used: get a new one"
            f" with `cairn security pin` ({left} more wrong PIN(s) within"
            f" {PIN_LOCKOUT.seconds // 60} minutes lock PIN use)"
        )
    voided = repo.guards.void_pins()
    critical(
        home,
        repo,
        "security PIN locked",
        f"{PIN_TRIES} wrong security PINs within {PIN_LOCKOUT.seconds // 60} minutes;"
        f" {voided} PIN(s) issued voided",
        now,
    )
    raise UsageError(_locked_out(failures))


def _locked_out(failures: list[datetime]) -> str:
    until = sorted(failures)[-PIN_TRIES] + PIN_LOCKOUT
    return (
        f"{PIN_TRIES} wrong security PINs within {PIN_LOCKOUT.seconds // 60} minutes: PIN use"
        f" is locked until {until.isoformat(timespec='minutes')} and every PIN issued before is"
        " void; then get a new one with `cairn security pin`. If these were not your tries,"
        " someone who holds this machine's key is guessing (the vault records it: `cairn status`)"
    )


def set_security(
    home: Home, repo: Repository, on: bool, pin: str | None, now: datetime
) -> GuardState:
    state = repo.guards.state()
    if not on and state.security:
        require_pin(home, repo, pin, now, "turning security off")
    new = replace(state, security=on)
    _save(home, repo, new)
    if not on and state.security:
        critical(home, repo, "security turned off", f"security of {repo.machine} is off", now)
    return new


def check_policy_change(
    home: Home, repo: Repository, old: Policy | None, new: Policy, pin: str | None, now: datetime
) -> list[str]:
    """Refuse a policy that lowers any retention without a PIN (security on); the changes."""
    lowered = retention_lowered(old, new) if old is not None else []
    if not lowered:
        return []
    if repo.guards.state().security:
        require_pin(home, repo, pin, now, f"lowering retention ({'; '.join(lowered)})")
    critical(home, repo, "retention lowered", "; ".join(lowered), now)
    return lowered


def stop(
    home: Home, repo: Repository, now: datetime, *, delete_data: bool, pin: str | None
) -> list[str]:
    """Stop protection; with `delete_data`, soft-delete every point. The points deleted."""
    state = repo.guards.state()
    if delete_data and state.security:
        require_pin(home, repo, pin, now, "deleting backup data (protection stop --delete-data)")
    deleted = []
    if delete_data:
        already = repo.guards.deleted()
        for pid in repo.point_ids():
            if pid not in already:
                repo.guards.soft_delete(pid, now, SOFT_DELETE_KEEP)
                deleted.append(pid)
    data = "deleted" if delete_data else state.data
    _save(home, repo, replace(state, protection="stopped", data=data, since=now.isoformat()))
    if delete_data:
        purge = (now + SOFT_DELETE_KEEP).date().isoformat()
        critical(
            home, repo, "backup data deleted",
            f"protection of {repo.machine} stopped and its {len(deleted)} recovery point(s)"
            f" deleted: `cairn protection undelete` brings them back until {purge}",
            now,
        )  # fmt: skip
    else:
        critical(
            home, repo, "protection stopped",
            f"protection of {repo.machine} stopped; its recovery points are kept and age out by"
            " the policy",
            now,
        )  # fmt: skip
    return deleted


def resume(home: Home, repo: Repository, now: datetime) -> GuardState:
    state = replace(repo.guards.state(), protection="on", data="kept", since=now.isoformat())
    _save(home, repo, state)
    repo.guards.record("protection resumed", f"protection of {repo.machine} resumed", now)
    return state


def undelete(repo: Repository, specs: list[str], now: datetime) -> list[str]:
    """Bring soft-deleted points back (all, or those `specs` name); the ids."""
    deleted = repo.guards.deleted()
    chosen: list[str] = []
    for spec in specs:
        matches = [p for p in deleted if p.startswith(spec.lower())]
        if not spec or not matches:
            raise UsageError(
                f"no deleted recovery point {spec!r}: see `cairn recovery-points --deleted`"
                " (a point is purged by prune 14 days after its deletion)"
            )
        if len(matches) > 1:
            raise UsageError(f"{spec!r} names {len(matches)} deleted points: give more characters")
        chosen.append(matches[0])
    ids = chosen or sorted(deleted)
    for pid in ids:
        repo.guards.undelete(pid)
    if ids:
        repo.guards.record("points undeleted", f"{len(ids)} recovery point(s) brought back", now)
    return ids


def prune_targets(
    repo: Repository, points: list[RecoveryPoint], policy: Policy | None, now: datetime
) -> set[str]:
    """What prune deletes: the live points the policy expires (the newest live one never), and
    the soft-deleted ones whose 14 days are over. Refused in an append-only vault."""
    if getattr(repo.store, "append_only", False):
        raise AppendOnly(
            f"the vault at {repo.store.location} is append-only: prune is refused (it would"
            " delete); prune from a vault that is not append-only, or keep everything"
        )
    live = [p for p in points if p.status != "deleted"]
    expired = expired_by_policy(live, policy, now) if policy is not None else set()
    purge = {pid for pid, after in repo.guards.deleted().items() if after <= now}
    targets = expired | {p.id for p in points if p.id in purge}
    # A point under S3 Object Lock retention stays, and so does the data it needs (prune's mark
    # keeps it); a later prune deletes it once its retention is over.
    return {p for p in targets if not objectlock.still_locked(repo.store, repo.layout.point(p))}


def forget_purged(repo: Repository, purged: list[str]) -> None:
    """After prune deleted them, the records of purged points go too."""
    deleted = repo.guards.deleted()
    for pid in purged:
        if pid in deleted:
            repo.guards.undelete(pid)
