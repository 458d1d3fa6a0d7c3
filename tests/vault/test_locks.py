"""Locks: sealed records under locks/, shared or exclusive, ignored once stale."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from cairn.codec.keys import MasterKey
from cairn.core.clock import FixedClock
from cairn.core.errors import EXIT_LOCKED, Locked, TransientStorageError
from cairn.core.ids import random_id
from cairn.vault.locks import REFRESH_EVERY, STALE_AFTER, LockManager, LockRecord
from cairn.vault.objects import ObjectSealer
from cairn.vault.repository import Repository

from .conftest import T0

OTHER_HOST = "other-host.example"


def plant(
    repo: Repository,
    *,
    exclusive: bool,
    age: timedelta = timedelta(0),
    host: str = OTHER_HOST,
    pid: int = 4242,
    purpose: str = "prune",
) -> LockRecord:
    """A lock as another process would have written it, `age` ago."""
    at = repo.clock.now() - age
    record = LockRecord(random_id(), host, pid, exclusive, purpose, at)
    repo.locks.write(record, at)
    return record


def lock_names(repo: Repository) -> list[str]:
    return sorted(b.name.rsplit("/", 1)[1] for b in repo.store.list(repo.layout.prefix("locks")))


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_the_timings() -> None:
    assert STALE_AFTER.total_seconds() == 30 * 60
    assert REFRESH_EVERY.total_seconds() == 5 * 60
    assert REFRESH_EVERY * 3 < STALE_AFTER


def test_acquire_writes_a_sealed_record_and_release_removes_it(repo: Repository) -> None:
    with repo.locks.acquire(exclusive=False, purpose="backup") as lock:
        assert lock_names(repo) == [lock.record.lock_id]
        raw = repo.store.get(repo.layout.lock(lock.record.lock_id))
        assert socket.gethostname().encode() not in raw
        (record,) = repo.locks.read_all()
        assert record == lock.record
        assert record.time == T0
        assert record.pid == os.getpid()
        assert record.host == socket.gethostname()
        assert (record.exclusive, record.purpose) == (False, "backup")
    assert lock_names(repo) == []


def test_shared_locks_coexist(repo: Repository) -> None:
    plant(repo, exclusive=False, purpose="backup")
    with (
        repo.locks.acquire(exclusive=False, purpose="restore"),
        repo.locks.acquire(exclusive=False, purpose="check"),
    ):
        assert len(lock_names(repo)) == 3
    assert len(lock_names(repo)) == 1


@pytest.mark.parametrize(("held", "wanted"), [(False, True), (True, False), (True, True)])
def test_exclusive_conflicts_with_any_other_lock(
    repo: Repository, held: bool, wanted: bool
) -> None:
    other = plant(repo, exclusive=held, purpose="backup")
    with pytest.raises(Locked) as err:
        repo.locks.acquire(exclusive=wanted, purpose="prune")
    assert err.value.exit_code == EXIT_LOCKED == 11
    message = str(err.value)
    assert "pid 4242" in message
    assert OTHER_HOST in message
    assert "backup" in message
    assert other.lock_id[:8] in message
    assert "'alpha'" in message
    # The loser removed its own record and left the holder's.
    assert lock_names(repo) == [other.lock_id]


def test_a_lock_held_in_this_process_blocks_an_exclusive_one(repo: Repository) -> None:
    with (
        repo.locks.acquire(exclusive=False, purpose="backup"),
        pytest.raises(Locked, match=f"pid {os.getpid()}"),
    ):
        repo.locks.acquire(exclusive=True, purpose="prune")
    with repo.locks.acquire(exclusive=True, purpose="prune"):
        pass


def test_a_lock_older_than_stale_after_is_ignored(repo: Repository) -> None:
    plant(repo, exclusive=True, age=STALE_AFTER + timedelta(seconds=1))
    with repo.locks.acquire(exclusive=True, purpose="prune"):
        pass


def test_a_lock_just_younger_than_stale_after_still_holds(repo: Repository) -> None:
    plant(repo, exclusive=True, age=STALE_AFTER - timedelta(seconds=1))
    with pytest.raises(Locked):
        repo.locks.acquire(exclusive=False, purpose="backup")


def test_a_lock_goes_stale_as_the_clock_moves(repo: Repository) -> None:
    plant(repo, exclusive=True)
    with pytest.raises(Locked):
        repo.locks.acquire(exclusive=False, purpose="backup")
    assert isinstance(repo.clock, FixedClock)
    repo.clock.set(T0 + STALE_AFTER + timedelta(minutes=1))
    with repo.locks.acquire(exclusive=False, purpose="backup"):
        pass


def test_a_lock_from_this_host_with_a_dead_pid_is_ignored(repo: Repository) -> None:
    plant(repo, exclusive=True, host=socket.gethostname(), pid=dead_pid())
    with repo.locks.acquire(exclusive=True, purpose="prune"):
        pass


def test_a_lock_from_this_host_with_a_live_pid_holds(repo: Repository) -> None:
    plant(repo, exclusive=True, host=socket.gethostname(), pid=os.getppid())
    with pytest.raises(Locked):
        repo.locks.acquire(exclusive=False, purpose="backup")


def test_a_dead_pid_on_another_host_is_not_judged_here(repo: Repository) -> None:
    plant(repo, exclusive=True, host=OTHER_HOST, pid=dead_pid())
    with pytest.raises(Locked):
        repo.locks.acquire(exclusive=False, purpose="backup")


def test_remove_stale_deletes_only_stale_locks(repo: Repository) -> None:
    live = plant(repo, exclusive=False)
    plant(repo, exclusive=True, age=STALE_AFTER + timedelta(minutes=5))
    plant(repo, exclusive=False, host=socket.gethostname(), pid=dead_pid())
    assert repo.locks.remove_stale() == 2
    assert lock_names(repo) == [live.lock_id]


def test_unreadable_lock_blobs_are_ignored(repo: Repository) -> None:
    other = plant(repo, exclusive=True)
    repo.store.put(repo.layout.lock(random_id()), b"garbage")
    repo.store.put(repo.layout.lock("not-an-id"), b"garbage")
    # A valid lock copied under another id does not open (its id is in the associated data).
    copied = random_id()
    repo.store.put(repo.layout.lock(copied), repo.store.get(repo.layout.lock(other.lock_id)))
    assert [r.lock_id for r in repo.locks.read_all()] == [other.lock_id]


def test_a_lock_sealed_by_another_key_is_ignored(repo: Repository) -> None:
    foreign = LockManager(repo.store, repo.layout, ObjectSealer(MasterKey.generate()), repo.clock)
    foreign.write(LockRecord(random_id(), OTHER_HOST, 1, True, "prune", T0), T0)
    with repo.locks.acquire(exclusive=True, purpose="prune"):
        pass


def test_the_lock_payload_is_json_with_the_documented_fields(repo: Repository) -> None:
    record = plant(repo, exclusive=True, purpose="prune")
    raw = repo.store.get(repo.layout.lock(record.lock_id))
    doc = json.loads(repo.objects.open(b"lock", bytes.fromhex(record.lock_id), raw))
    assert doc == {
        "host": OTHER_HOST,
        "pid": 4242,
        "exclusive": True,
        "purpose": "prune",
        "time": T0.isoformat(),
    }


def test_a_live_process_on_this_host_keeps_its_lock_however_old(repo: Repository) -> None:
    """A suspended laptop's backup must not lose its lock to prune when it wakes up."""
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    manager = LockManager(repo.store, repo.layout, repo.objects, repo.clock)
    record = LockRecord(random_id(), socket.gethostname(), os.getppid(), False, "backup", now)
    assert not manager.is_stale(record, now + timedelta(hours=3))
    assert manager.is_stale(record, now + timedelta(hours=25))  # the pid must have been reused
    other = LockRecord(random_id(), "another-host", os.getpid(), False, "backup", now)
    assert manager.is_stale(other, now + timedelta(minutes=31))


def test_a_lock_this_process_failed_to_release_does_not_block_it(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The storage was down when a backup released its lock: a long-running agent must not find
    its own left-over lock blocking prune (its pid is alive) for a day."""
    held = repo.locks.acquire(exclusive=False, purpose="backup")
    with pytest.raises(Locked):  # held: it blocks
        repo.locks.acquire(exclusive=True, purpose="prune")

    def down(name: str) -> None:
        raise TransientStorageError("the storage is down")

    with monkeypatch.context() as m:
        m.setattr(repo.store, "delete", down)
        held.release()  # the delete failed: the record stays in the vault
    assert lock_names(repo) == [held.record.lock_id]
    with repo.locks.acquire(exclusive=True, purpose="prune"):
        pass
    assert repo.locks.remove_stale() == 1
    assert lock_names(repo) == []


def test_a_lock_this_process_holds_is_live_however_old(repo: Repository) -> None:
    held = repo.locks.acquire(exclusive=False, purpose="backup")
    later = held.record.time + timedelta(days=3)
    assert not repo.locks.is_stale(held.record, later)
    held.release()
    assert repo.locks.is_stale(held.record, held.record.time)
