"""Storage that lies: writes acknowledged but not stored, and listings that miss recent objects
(eventual consistency). No recovery point may name data that is not stored, and prune must never
delete data a point uses because a listing did not show that point or its packs."""

from __future__ import annotations

import os
import random
import shutil
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cairn.core.clock import FixedClock
from cairn.core.events import Reporter
from cairn.engine.backup import BackupOptions, backup
from cairn.engine.check import check
from cairn.engine.prune import prune
from cairn.engine.restore import RestoreOptions, restore
from cairn.storage.blobstore import BlobInfo, BlobStore
from cairn.storage.faulty import FaultyBlobStore
from cairn.storage.local import LocalBlobStore
from cairn.storage.retrying import RetryingBlobStore
from cairn.vault.index import Index
from cairn.vault.repository import Repository
from cairn.vault.vault import Vault
from tests.conftest import Machine, tree_digest
from tests.engine.test_faults import change, no_fsync  # noqa: F401 (a fixture)
from tests.reliability import record, scale

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
KEEP = 8


def over(store: BlobStore, machine: Machine, now: datetime = T0) -> Repository:
    """The machine's store through `store`, remembering the points it saw, as the session does."""
    repo = Vault(store, FixedClock(now)).open("testbox", machine.repo().key)
    repo.memory = machine.repo().memory
    return repo


def restored(machine: Machine, point_id: str, src: Path) -> dict[str, tuple[str, str]]:
    target = machine.tmp / f"r-{point_id[:8]}"
    shutil.rmtree(target, ignore_errors=True)
    out = restore(
        machine.repo(), machine.repo().find_point(point_id), RestoreOptions(target=str(target))
    )
    assert out.damaged == []
    return tree_digest(target / str(src).lstrip("/"))


class LosesFirstPut(LocalBlobStore):
    """Acknowledges the first put of each name under `packs/` (or `which`) and stores nothing."""

    def __init__(self, root: str, which: str) -> None:
        super().__init__(root)
        self.which = which
        self.lost: list[str] = []

    def put(self, name: str, data: bytes | memoryview) -> None:
        if f"/{self.which}/" in name and name not in self.lost:
            self.lost.append(name)
            return
        super().put(name, data)


def test_a_pack_acknowledged_but_not_stored_is_written_again(machine: Machine) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    (src / "a.bin").write_bytes(os.urandom(1 << 20))
    (src / "b.txt").write_text("b")
    store = LosesFirstPut(str(machine.vault), "packs")
    point = backup(over(store, machine), BackupOptions([str(src)], workers=1)).point
    assert store.lost  # writes were lost, and written again
    machine.check_clean()
    assert restored(machine, point.id, src) == tree_digest(src)


def test_an_index_segment_and_a_point_acknowledged_but_not_stored_are_written_again(
    machine: Machine,
) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    (src / "a.txt").write_text("a")
    for which in ("index", "points"):
        store = LosesFirstPut(str(machine.vault), which)
        point = backup(over(store, machine), BackupOptions([str(src)], workers=1)).point
        assert store.lost
        assert point.id in machine.repo().point_ids()
        machine.check_clean()
        assert restored(machine, point.id, src) == tree_digest(src)


class MissesPoints(LocalBlobStore):
    """A listing of `points/` that leaves out the points named in `hidden` (recent ones)."""

    def __init__(self, root: str) -> None:
        super().__init__(root)
        self.hidden: set[str] = set()

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        for info in super().list(prefix):
            if info.name.rsplit("/", 1)[1] not in self.hidden:
                yield info


def test_prune_keeps_a_pack_that_a_point_missing_from_its_listing_reuses(
    machine: Machine,
) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    keep = os.urandom(600_000)
    (src / "a.bin").write_bytes(keep)
    first = backup(machine.repo(), BackupOptions([str(src)])).point
    (src / "a.bin").unlink()
    (src / "b.txt").write_text("b")
    backup(machine.repo(), BackupOptions([str(src)]))
    # The first point expires: its pack is unreferenced from T0 on ...
    prune(machine.repo(), {first.id}, now=T0, grace=timedelta(hours=24))
    # ... and a backup a day later finds the same content again and reuses that pack.
    (src / "a.bin").write_bytes(keep)
    third = backup(machine.repo(), BackupOptions([str(src)])).point
    assert third.stats.bytes_added < 100_000
    # A prune whose listing of points does not show that new point yet (eventual consistency).
    store = MissesPoints(str(machine.vault))
    store.hidden = {third.id}
    prune(over(store, machine, T0 + timedelta(hours=25)), set(), now=T0 + timedelta(hours=25))
    machine.check_clean()
    assert restored(machine, third.id, src) == tree_digest(src)


def test_prune_is_not_stopped_by_a_listing_that_misses_a_recent_pack(machine: Machine) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    (src / "a.bin").write_bytes(os.urandom(300_000))
    point = backup(machine.repo(), BackupOptions([str(src)])).point
    # Every object of the backup is recent: a listing drops each of them (the worst case).
    store = FaultyBlobStore(
        LocalBlobStore(str(machine.vault)), 0.0, listing_drops=1.0, recent_seconds=3600
    )
    old = time.time() - 7200
    for f in (machine.vault / "machines/testbox").rglob("*"):
        if f.is_file() and "/packs/" not in str(f):
            os.utime(f, (old, old))  # only the packs stay recent
    prune(over(store, machine, T0), set(), now=T0, grace=timedelta(0))
    assert store.faults["dropped"] > 0
    machine.check_clean()
    assert restored(machine, point.id, src) == tree_digest(src)


def test_restore_finds_the_data_of_a_segment_its_listing_missed(machine: Machine) -> None:
    src = machine.tmp / "src"
    (src / "d").mkdir(parents=True)
    (src / "d" / "a.bin").write_bytes(os.urandom(300_000))
    (src / "b.txt").write_text("b")
    point = backup(machine.repo(), BackupOptions([str(src)])).point
    store = FaultyBlobStore(
        LocalBlobStore(str(machine.vault)), 0.0, listing_drops=1.0, recent_seconds=3600
    )
    old = time.time() - 7200
    for f in (machine.vault / "machines/testbox").rglob("*"):
        if f.is_file() and "/index/" not in str(f):
            os.utime(f, (old, old))  # only the index segment stays recent
    repo = over(store, machine)
    target = machine.tmp / "r"
    out = restore(repo, repo.find_point(point.id), RestoreOptions(target=str(target)))
    assert store.faults["dropped"] > 0
    assert out.damaged == []
    assert tree_digest(target / str(src).lstrip("/")) == tree_digest(src)


def test_round_trips_through_flaky_eventually_consistent_storage(machine: Machine) -> None:
    """Issue 16's figure: 5% transient failures, 1% timeouts, 0.1% writes acknowledged but not
    stored, listings dropping 10% of recent objects: every backup and restore of every round
    succeeds, prune (grace 0, the harshest) never deletes data a point uses, and at the end,
    through the plain store, the vault checks clean and every point restores to its round's tree
    (0 corrupt points)."""
    rounds = scale("flaky_rounds", 60)
    faulty = FaultyBlobStore(
        LocalBlobStore(str(machine.vault)),
        0.05,
        seed=16,
        timeouts=0.01,
        lost_writes=0.001,
        listing_drops=0.1,
        recent_seconds=5,
    )
    store = RetryingBlobStore(faulty, sleep=lambda s: None)
    rng = random.Random(16)
    src = machine.tmp / "src"
    src.mkdir()
    by_time: dict[datetime, dict[str, tuple[str, str]]] = {}
    alive: list[str] = []
    prunes = 0
    for r in range(rounds):
        change(src, rng)
        now = T0 + timedelta(hours=r)
        by_time[now] = tree_digest(src)
        repo = over(store, machine, now)
        point = backup(repo, BackupOptions([str(src)], workers=1)).point
        alive.append(point.id)
        target = machine.tmp / "restored"
        chosen = point.id if rng.random() < 0.7 else rng.choice(alive)
        repo = over(store, machine, now)
        reporter = Reporter()
        out = restore(repo, repo.find_point(chosen), RestoreOptions(target=str(target)), reporter)
        assert out.damaged == [], (r, reporter.warnings, dict(faulty.faults))
        assert tree_digest(target / str(src).lstrip("/")) == by_time[repo.find_point(chosen).time]
        shutil.rmtree(target)
        if r % 10 == 9:
            expired = set(alive[:-KEEP])
            done = prune(over(store, machine, now), expired, now=now, grace=timedelta(0))
            assert set(done.points_deleted) == expired
            alive = alive[-KEEP:]
            prunes += 1
    faults = dict(faulty.faults)
    assert faults.get("dropped", 0) > 0 and faults.get("timeout", 0) > 0, faults
    clean = machine.repo()
    assert check(clean, read_data=True).errors == []
    corrupt = 0
    for p in clean.list_points():
        target = machine.tmp / "final"
        out = restore(clean, p, RestoreOptions(target=str(target)))
        if out.damaged or tree_digest(target / str(src).lstrip("/")) != by_time[p.time]:
            corrupt += 1
        shutil.rmtree(target)
    assert sorted(p.id for p in clean.list_points()) == sorted(alive)
    record("flaky", rounds=rounds, prunes=prunes, faults=faults, corrupt_points=corrupt)
    assert corrupt == 0


def test_prune_goes_on_when_the_index_names_a_gone_pack_beside_a_stored_copy(
    machine: Machine,
) -> None:
    """A segment a listing missed when a prune ran still names a pack that prune deleted; the data
    a point needs is stored in another pack: prune must not stop as if it were lost."""
    src = machine.tmp / "src"
    src.mkdir()
    (src / "a.bin").write_bytes(os.urandom(200_000))
    point = backup(machine.repo(), BackupOptions([str(src)])).point
    repo = machine.repo()
    index = repo.load_index()
    real = next(iter(index.packs.values()))
    gone = replace(real, pack_id="ab" * 32)  # the same blobs, in a pack that is not there
    first = Index(segments=set(index.segments))
    for info in [gone, *index.packs.values()]:
        first.add_pack(info)
    repo.rewrite_index(first)  # the gone pack's copies come first
    prune(machine.repo(), set(), now=T0, grace=timedelta(0))
    prune(machine.repo(), set(), now=T0 + timedelta(hours=1), grace=timedelta(0))
    machine.check_clean()
    assert restored(machine, point.id, src) == tree_digest(src)
