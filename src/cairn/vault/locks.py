"""Locks: sealed records in machines/<m>/locks/<id>, refreshed while held.

A backup, restore or check takes a shared lock; prune takes an exclusive one. An exclusive lock
conflicts with every other lock. A lock of another host is stale, and ignored, when it was not
refreshed for `STALE_AFTER`; a lock of this host when its process no longer runs (or, against a
reused pid, after a day without a refresh). A lock of this very process is judged by what it holds
now: one whose release failed (the storage was down) is left over, not held, so it does not block
this process (a long-running agent) for a day. Acquiring writes the lock first, then lists the
others: two racing exclusive acquirers both back off, never both win.

A vault that cannot take a new blob (full, or read-only: a read-only mount or a read-only
credential) must still be readable, and a full one must be freeable:

- a reader (restore, check: `reading` given) whose lock cannot be written goes on without one,
  with a warning saying so, unless a live exclusive lock (a prune) is there;
- prune (`make_room` given) whose lock meets a full vault first frees room by deleting what it
  may delete without a lock (the expired recovery points: no data goes with them, so no backup or
  restore in flight can lose anything), then tries its lock once more.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cairn.core.clock import Clock
from cairn.core.errors import (
    CairnError,
    Locked,
    NoSpace,
    StorageError,
    TransientStorageError,
)
from cairn.core.ids import random_id
from cairn.storage.blobstore import BlobStore, put_verified
from cairn.vault.layout import MachineLayout
from cairn.vault.objects import ObjectSealer

# Ids of the locks this process holds now (a lock it failed to delete is no longer among them).
_HELD: set[str] = set()
_HELD_GUARD = threading.Lock()

STALE_AFTER = timedelta(minutes=30)
STALE_ON_THIS_HOST = timedelta(hours=24)
REFRESH_EVERY = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class LockRecord:
    lock_id: str
    host: str
    pid: int
    exclusive: bool
    purpose: str
    time: datetime

    def describe(self) -> str:
        kind = "exclusive" if self.exclusive else "shared"
        return (
            f"{self.purpose} (pid {self.pid} on {self.host}, {kind} lock {self.lock_id[:8]},"
            f" refreshed {self.time.isoformat(timespec='seconds')})"
        )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Lock:
    def __init__(self, locks: LockManager, record: LockRecord) -> None:
        self._locks = locks
        self.record = record
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._refresh_loop, daemon=True)
        self._thread.start()

    def _refresh_loop(self) -> None:
        while not self._stop.wait(REFRESH_EVERY.total_seconds()):
            try:
                self._locks.write(self.record, self._locks.clock.now())
            except CairnError:
                pass  # the next refresh tries again; a lock is stale only after STALE_AFTER

    def release(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)  # a refresh racing the delete would bring the lock back
        with _HELD_GUARD:
            _HELD.discard(self.record.lock_id)
        try:
            self._locks.store.delete(self._locks.layout.lock(self.record.lock_id))
        except StorageError:
            pass

    def __enter__(self) -> Lock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Unlocked:
    """What a reader holds when its lock could not be written: nothing to refresh or release."""

    def release(self) -> None:
        pass

    def __enter__(self) -> Unlocked:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class LockManager:
    def __init__(
        self, store: BlobStore, layout: MachineLayout, sealer: ObjectSealer, clock: Clock
    ) -> None:
        self.store = store
        self.layout = layout
        self.sealer = sealer
        self.clock = clock
        self.host = socket.gethostname()

    def write(self, record: LockRecord, now: datetime) -> None:
        doc = {
            "host": record.host,
            "pid": record.pid,
            "exclusive": record.exclusive,
            "purpose": record.purpose,
            "time": now.isoformat(),
        }
        blob = self.sealer.seal_json(b"lock", bytes.fromhex(record.lock_id), doc)
        put_verified(self.store, self.layout.lock(record.lock_id), blob)

    def read_all(self) -> list[LockRecord]:
        out = []
        for info in self.store.list(self.layout.prefix("locks")):
            lock_id = info.name.rsplit("/", 1)[1]
            try:
                data = self.store.get(info.name)
                d = self.sealer.open_json(b"lock", bytes.fromhex(lock_id), data)
                out.append(
                    LockRecord(
                        lock_id,
                        str(d["host"]),
                        int(d["pid"]),
                        bool(d["exclusive"]),
                        str(d["purpose"]),
                        datetime.fromisoformat(d["time"]),
                    )
                )
            except (CairnError, KeyError, TypeError, ValueError):
                continue  # vanished or unreadable: not a live lock of ours
        return out

    def is_stale(self, record: LockRecord, now: datetime) -> bool:
        """On this host a lock is stale only when its process is gone (a suspended laptop's
        backup is alive however old its lock looks); elsewhere, when it was not refreshed."""
        if record.host == self.host and record.pid == os.getpid():
            with _HELD_GUARD:
                return record.lock_id not in _HELD
        if record.host == self.host:
            # A day without a refresh means the pid was reused by another process.
            return not _pid_alive(record.pid) or now - record.time > STALE_ON_THIS_HOST
        return now - record.time > STALE_AFTER

    def acquire(
        self,
        *,
        exclusive: bool,
        purpose: str,
        reading: Callable[[str, str], None] | None = None,
        make_room: Callable[[], int] | None = None,
    ) -> Lock | Unlocked:
        """Take a lock. `reading(path, message)`, for a reader only, is told when the lock cannot
        be written (a full or read-only vault) and the reader goes on without it. `make_room`,
        for prune, frees room on a full vault (returns how many objects it deleted) before the
        lock is tried once more. See the module docstring."""
        now = self.clock.now()
        record = LockRecord(random_id(), self.host, os.getpid(), exclusive, purpose, now)
        with _HELD_GUARD:
            _HELD.add(record.lock_id)
        try:
            try:
                self.write(record, now)
            except NoSpace:
                if make_room is None or not make_room():
                    raise
                self.write(record, now)
            others = self.read_all()
        except (NoSpace, StorageError) as e:
            with _HELD_GUARD:
                _HELD.discard(record.lock_id)
            if reading is None or exclusive or isinstance(e, TransientStorageError):
                raise
            return self._unlocked(purpose, e, reading, now)
        except BaseException:
            with _HELD_GUARD:
                _HELD.discard(record.lock_id)
            raise
        for other in others:
            if other.lock_id == record.lock_id or self.is_stale(other, now):
                continue
            if exclusive or other.exclusive:
                with _HELD_GUARD:
                    _HELD.discard(record.lock_id)
                self.store.delete(self.layout.lock(record.lock_id))
                raise self._locked(other)
        return Lock(self, record)

    def _locked(self, other: LockRecord) -> Locked:
        return Locked(
            f"the store of machine {self.layout.machine!r} is locked by {other.describe()};"
            " wait for it to finish (a lock of a process that is gone is ignored; one of"
            f" another host once it is {int(STALE_AFTER.total_seconds() // 60)} minutes"
            " without a refresh)"
        )

    def _unlocked(
        self, purpose: str, error: CairnError, reading: Callable[[str, str], None], now: datetime
    ) -> Unlocked:
        """A reader on a vault that takes no new blob: no live prune may be there."""
        for other in self.read_all():
            if other.exclusive and not self.is_stale(other, now):
                raise self._locked(other)
        why = "is full" if isinstance(error, NoSpace) else "cannot be written (read-only?)"
        reading(
            self.store.location,
            f"the vault {why}: {purpose} goes on without a lock, so a prune started meanwhile"
            f" is not kept out ({error})",
        )
        return Unlocked()

    def remove_stale(self) -> int:
        now = self.clock.now()
        n = 0
        for rec in self.read_all():
            if self.is_stale(rec, now):
                try:
                    self.store.delete(self.layout.lock(rec.lock_id))
                    n += 1
                except StorageError:
                    pass
        return n
