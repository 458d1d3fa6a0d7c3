"""Offline initial backup: the first backup goes to a staging folder, and the machine waits for
its import (docs/offline.md).

    CAIRN_HOME/offline.json           this machine's seeding: import job, staging, state, the point
    STAGING/cairn-staging.json        plaintext: format, version, vault id, machine, import job
    STAGING/vault.json                a copy of the vault's
    STAGING/machines/<m>/config       a copy of the vault's
    STAGING/machines/<m>/keys/<id>    copies of the vault's key files (sealed by the passphrase)
    STAGING/machines/<m>/packs|index|points/...   the first backup, in the vault format

The staging folder is a local `BlobStore`, and the first backup is the engine's own `backup` run
against a `Repository` on it, with the machine's master key and config: the same format, the same
keys, the same write order (packs, then index, then the point). Nothing in it opens without the
passphrase (or the key kept in CAIRN_HOME).

States of `offline.json`: `staging` (the first backup is being written there: a killed one is
resumed, as a backup resumes in a vault), `awaiting-import` (the point is staged; scheduled
backups wait), `imported` (the staged point is in the vault: backups are incremental against it).
The move to `imported` is made by whoever first sees the staged point in the vault: a backup, the
scheduler, or `cairn offline status`; the import itself may run on another machine.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cairn.core.errors import (
    AwaitingImport,
    BlobNotFound,
    CairnError,
    NoSpace,
    UsageError,
)
from cairn.core.events import Reporter
from cairn.core.units import format_bytes
from cairn.engine.backup import BackupOptions, BackupResult, backup
from cairn.engine.home import Home, write_private
from cairn.policy import Policy
from cairn.storage.blobstore import BlobStore
from cairn.storage.local import LocalBlobStore
from cairn.storage.location import is_remote
from cairn.vault.layout import VAULT_FILE
from cairn.vault.repository import Repository
from cairn.vault.vault import list_key_files

STATE_FILE = "offline.json"
STAGING_FILE = "cairn-staging.json"
STAGING_FORMAT = "cairn-offline-staging"
STATES = ("staging", "awaiting-import", "imported")


@dataclass
class OfflineState:
    import_job: str
    staging: str
    vault_id: str
    machine: str
    state: str
    point: str | None = None
    staged: str | None = None
    staged_bytes: int = 0
    imported: str | None = None

    def next_step(self) -> str:
        """What to do next, in words a user can follow."""
        if self.state == "staging":
            return "the first backup into the staging folder did not finish: run `cairn backup`"
        if self.state == "awaiting-import":
            return (
                f"copy the staging folder to disks: `cairn offline prep --staging {self.staging}"
                " --disk DIR [--disk DIR ...]`, ship them, and import them where the vault is"
                " reachable: `cairn offline import --disk DIR [--disk DIR ...]`; scheduled"
                " backups wait until then"
            )
        return "nothing: backups run incrementally against the imported recovery point"

    def reason(self) -> str:
        return (
            f"machine {self.machine!r} is awaiting import of offline job {self.import_job!r}"
            f" (recovery point {str(self.point)[:8]}, {format_bytes(self.staged_bytes)} staged in"
            f" {self.staging}); next: {self.next_step()}"
        )


def load_state(home: Home) -> OfflineState | None:
    path = home.path / STATE_FILE
    try:
        doc = json.loads(path.read_text())
        state = OfflineState(**doc)
    except FileNotFoundError:
        return None
    except (ValueError, TypeError):
        raise CairnError(f"{path} is damaged: remove it and run `cairn backup` again") from None
    if state.state not in STATES:
        raise CairnError(f"{path} holds an unknown state {state.state!r}")
    return state


def save_state(home: Home, state: OfflineState) -> None:
    write_private(home.path / STATE_FILE, json.dumps(asdict(state), indent=1).encode() + b"\n")


# --- the policy --------------------------------------------------------------------------------


def check_staging(policy: Policy, vault_location: str) -> None:
    """`[offline] staging` is a local folder this user can write, apart from the items and the
    vault: created if missing (its parent must exist), and written to once to prove it."""
    if policy.offline is None:
        return
    staging = os.path.normpath(policy.offline.staging)
    field = "offline.staging"
    if not os.path.isdir(staging):
        if not os.path.isdir(os.path.dirname(staging)):
            raise UsageError(f"{field}: {staging}: its parent folder does not exist")
        try:
            os.mkdir(staging, 0o700)
        except OSError as e:
            raise UsageError(f"{field}: cannot create {staging}: {e.strerror}") from None
    probe = os.path.join(staging, f".cairn-probe-{secrets.token_hex(4)}")
    try:
        with open(probe, "wb") as f:
            f.write(b"cairn")
        os.unlink(probe)
    except OSError as e:
        raise UsageError(
            f"{field}: {staging} is not writable ({e.strerror}): choose a folder this user can"
            " write, on a disk with room for the first backup"
        ) from None
    for item in policy.items:
        item = os.path.normpath(item)
        if _inside(staging, item) or _inside(item, staging):
            raise UsageError(
                f"{field}: {staging} overlaps the item {item}: the staging folder must lie outside"
                " every item (else the first backup would back itself up)"
            )
    if not is_remote(vault_location) and _inside(staging, os.path.normpath(vault_location)):
        raise UsageError(f"{field}: {staging} is inside the vault {vault_location}")
    marker = os.path.join(staging, STAGING_FILE)
    if not os.path.exists(marker) and any(not n.startswith(".") for n in os.listdir(staging)):
        raise UsageError(
            f"{field}: {staging} is not empty: the staging folder must be empty (or hold this"
            " machine's staging)"
        )


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


# --- the first backup --------------------------------------------------------------------------


def seeding(home: Home, repo: Repository, policy: Policy | None) -> OfflineState | None:
    """Before a backup: the seeding to stage into (None: back up to the vault as usual).
    Raises `AwaitingImport` while the staged point is not in the vault yet."""
    if policy is None or policy.offline is None:
        return None
    state = load_state(home)
    info = repo.store.get(VAULT_FILE)
    vault_id = json.loads(info)["vault_id"]
    if state is not None and (state.vault_id != vault_id or state.machine != repo.machine):
        state = None  # a seeding for another vault or machine: this one starts afresh
    if (
        state is not None
        and state.state == "staging"
        and (
            state.staging != os.path.normpath(policy.offline.staging)
            or state.import_job != policy.offline.import_job
        )
    ):
        state = None  # the policy names another staging folder or job before any was staged
    if state is not None and state.state == "imported":
        return None
    if state is not None and state.state == "awaiting-import":
        if refresh(home, repo, state).state == "imported":
            return None
        raise AwaitingImport(state.reason())
    if state is None:
        if repo.point_ids():
            return None  # the machine has recovery points in the vault: nothing to seed
        state = OfflineState(
            policy.offline.import_job,
            os.path.normpath(policy.offline.staging),
            vault_id,
            repo.machine,
            "staging",
        )
    return state


def refresh(home: Home, repo: Repository, state: OfflineState) -> OfflineState:
    """`awaiting-import` becomes `imported` once the staged point is in the vault."""
    if state.state != "awaiting-import" or state.point is None:
        return state
    try:
        repo.store.stat(repo.layout.point(state.point))
    except BlobNotFound:
        return state
    state.state = "imported"
    state.imported = repo.clock.now().isoformat()
    save_state(home, state)
    return state


def staging_repository(repo: Repository, state: OfflineState) -> Repository:
    """A `Repository` on the staging folder with the machine's key and config: written first
    with the staging marker, the vault's vault.json, config and key files."""
    store = LocalBlobStore(state.staging)
    marker = {
        "format": STAGING_FORMAT,
        "version": 1,
        "vault_id": state.vault_id,
        "machine": state.machine,
        "import_job": state.import_job,
    }
    try:
        existing = json.loads(store.get(STAGING_FILE))
    except BlobNotFound:
        existing = None
    except ValueError:
        raise CairnError(f"{state.staging}/{STAGING_FILE} is damaged") from None
    if existing is not None and any(existing.get(k) != v for k, v in marker.items()):
        raise UsageError(
            f"the staging folder {state.staging} holds the staging of import job"
            f" {existing.get('import_job')!r} (vault {existing.get('vault_id')}, machine"
            f" {existing.get('machine')!r}): empty it or choose another folder"
        )
    if existing is None:
        store.put(STAGING_FILE, json.dumps(marker, indent=1).encode() + b"\n")
    layout = repo.layout
    _copy(repo.store, store, VAULT_FILE)
    _copy(repo.store, store, layout.config)
    for key_id, data in list_key_files(repo.store, layout):
        store.put(layout.key(key_id), data)
    return Repository(store, repo.machine, repo.key, repo.config, repo.clock)


def _copy(source: BlobStore, target: BlobStore, name: str) -> None:
    target.put(name, source.get(name))


def stage(
    home: Home,
    repo: Repository,
    state: OfflineState,
    options: BackupOptions,
    reporter: Reporter | None = None,
) -> BackupResult:
    """The first backup, into the staging folder; the machine is then awaiting import."""
    save_state(home, state)
    try:
        staged = staging_repository(repo, state)
        points = staged.list_points()
        if points:  # a staging backup finished before its state was saved: it is the one
            point = points[-1]
            result = BackupResult(point, 0, 0.0)
        else:
            result = backup(staged, options, reporter)
            point = result.point
    except NoSpace:
        raise NoSpace(
            f"the staging folder {state.staging} is full: free space there, or set a staging"
            " folder on a larger disk (`cairn policy set`), then `cairn backup` again (it"
            " resumes)"
        ) from None
    state.state = "awaiting-import"
    state.point = point.id
    state.staged = point.time.isoformat()
    state.staged_bytes = staging_size(state.staging)
    save_state(home, state)
    result.offline = status_doc(state)
    return result


def staging_size(staging: str) -> int:
    total = 0
    for info in LocalBlobStore(staging).list(""):
        total += info.size
    return total


def status_doc(state: OfflineState | None) -> dict[str, Any]:
    """What `offline status --json`, `policy show`, the agent's status and the job show."""
    if state is None:
        return {"state": "none"}
    doc: dict[str, Any] = asdict(state)
    doc["next"] = state.next_step()
    return doc


def waiting_reason(home: Home, open_repo: Any) -> str | None:
    """For the scheduler: why scheduled backups wait now (None: they run). `open_repo()` gives
    the machine's repository, opened only while the machine is awaiting import."""
    state = load_state(home)
    if state is None or state.state != "awaiting-import":
        return None
    try:
        if refresh(home, open_repo(), state).state == "imported":
            return None
    except CairnError:
        pass  # the vault cannot be reached now: the machine is still waiting
    return state.reason()


def status_path(home: Home) -> Path:
    return home.path / STATE_FILE
