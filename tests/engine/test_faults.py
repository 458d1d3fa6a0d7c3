"""The figure of issue 5: with a fault-injecting wrapper failing 5% of storage operations
transiently (half of them after the operation took effect), 200 backup/restore round trips give
0 corrupt recovery points, and every failed job is reported as failed.

Each round changes a small tree on disk, backs it up through the engine, and restores a recovery
point, all through `FaultyBlobStore(rate=0.05)` around the local vault: once with the retrying
wrapper (every job should succeed) and once without it (most jobs fail); a prune every 25 rounds
deletes old points and their data through the faults too. Every job either raises a
`CairnError` that names the vault and the fault, or gives a recovery point that restores byte for
byte. At the end, through the plain store, `check --read-data` passes and every recovery point in
the vault (those of jobs that reported failure after the point landed included) restores to the
tree of its round.
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cairn.core.clock import FixedClock
from cairn.core.errors import CairnError
from cairn.engine.backup import BackupOptions, backup
from cairn.engine.check import check
from cairn.engine.prune import prune
from cairn.engine.restore import RestoreOptions, restore
from cairn.storage.blobstore import BlobStore
from cairn.storage.faulty import FaultyBlobStore
from cairn.storage.local import LocalBlobStore
from cairn.storage.retrying import RetryingBlobStore
from cairn.vault.points import RecoveryPoint
from cairn.vault.repository import Repository
from cairn.vault.vault import Vault
from tests.conftest import Machine, tree_digest

ROUNDS = 200
RATE = 0.05
KEEP = 30
START = datetime(2026, 1, 1, tzinfo=UTC)

Digest = dict[str, tuple[str, str]]


@pytest.fixture(autouse=True)
def no_fsync(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Durability is not what these tests are about: 400 jobs of fsyncs would take most of the
    time (forked workers inherit the patch)."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)
    yield


@dataclass
class Tally:
    backups_ok: int = 0
    backups_failed: int = 0
    restores_ok: int = 0
    restores_failed: int = 0
    prunes: int = 0
    prunes_failed: int = 0
    messages: list[str] = field(default_factory=list)


def change(src: Path, rng: random.Random) -> None:
    """One round's changes: write, add, remove files; now and then a folder or a larger file."""
    for _ in range(rng.randint(1, 3)):
        folder = src / rng.choice(["", "a", "a/b", "c"])
        folder.mkdir(parents=True, exist_ok=True)
        action = rng.random()
        files = sorted(p for p in src.rglob("*") if p.is_file())
        if action < 0.5 or not files:
            size = rng.choice([0, 1, 100, 5_000, 40_000]) if rng.random() < 0.9 else 600_000
            (folder / f"f{rng.randrange(12)}.bin").write_bytes(rng.randbytes(size))
        elif action < 0.8:
            target = rng.choice(files)
            data = target.read_bytes()
            target.write_bytes(data[: len(data) // 2] + rng.randbytes(rng.randrange(1, 3000)))
        else:
            rng.choice(files).unlink()


def restored_digest(target: Path, src: Path) -> Digest:
    return tree_digest(target / str(src).lstrip("/"))


def open_repo(store: BlobStore, machine: Machine, clock: FixedClock) -> Repository:
    """The machine's store over `store`, as the engine opens it (reading through the faults)."""
    key = machine.repo().key
    return Vault(store, clock).open("testbox", key)


def assert_reported(e: CairnError, machine: Machine, tally: Tally) -> None:
    text = str(e)
    assert str(machine.vault) in text, text  # which vault failed
    assert "injected fault" in text, text  # and why
    tally.messages.append(text)


def run_rounds(
    machine: Machine, store: BlobStore, rng: random.Random, prune_every: int = 0
) -> tuple[Tally, dict[datetime, Digest], list[RecoveryPoint]]:
    """ROUNDS rounds of change, backup, restore (and, every `prune_every` rounds, a prune keeping
    the newest KEEP points); what happened, each round's tree by the time of its recovery point,
    and the points whose jobs reported success and that no prune deleted."""
    src = machine.tmp / "src"
    src.mkdir()
    clock = FixedClock(START)
    tally = Tally()
    by_time: dict[datetime, Digest] = {}
    reported: list[RecoveryPoint] = []
    for r in range(ROUNDS):
        change(src, rng)
        clock.set(START + timedelta(hours=r))
        by_time[clock.now()] = tree_digest(src)
        try:
            repo = open_repo(store, machine, clock)
            point = backup(repo, BackupOptions([str(src)], workers=1)).point
        except CairnError as e:
            tally.backups_failed += 1
            assert_reported(e, machine, tally)
        else:
            tally.backups_ok += 1
            assert point.time == clock.now()
            reported.append(point)
        if not reported:
            continue
        # Restore this round's point if it has one, else an earlier one.
        point = reported[-1] if reported[-1].time == clock.now() else rng.choice(reported)
        target = machine.tmp / "restored"
        try:
            repo = open_repo(store, machine, clock)
            result = restore(repo, point, RestoreOptions(target=str(target)))
        except CairnError as e:
            tally.restores_failed += 1
            assert_reported(e, machine, tally)
        else:
            tally.restores_ok += 1
            assert result.damaged == []  # a transient failure never passes for damage
            assert restored_digest(target, src) == by_time[point.time]
        shutil.rmtree(target, ignore_errors=True)
        if prune_every and r % prune_every == prune_every - 1:
            expired = {p.id for p in machine.repo().list_points()[:-KEEP]}
            try:
                repo = open_repo(store, machine, clock)
                done = prune(repo, expired, now=clock.now(), grace=timedelta(0))
            except CairnError as e:
                tally.prunes_failed += 1
                assert_reported(e, machine, tally)
            else:
                tally.prunes += 1
                assert set(done.points_deleted) == expired
            # A prune that failed half way may have deleted some of the expired points.
            present = set(machine.repo().point_ids())
            reported = [p for p in reported if p.id in present]
    return tally, by_time, reported


def verify_vault(
    machine: Machine, by_time: dict[datetime, Digest], reported: list[RecoveryPoint]
) -> int:
    """Through the plain store: check --read-data, and every point restores to its round's tree."""
    clean = machine.repo()
    result = check(clean, read_data=True)
    assert result.errors == [], result.errors
    points = clean.list_points()
    assert {p.id for p in reported} <= {p.id for p in points}
    src = machine.tmp / "src"
    for p in points:
        target = machine.tmp / "final"
        out = restore(clean, p, RestoreOptions(target=str(target)))
        assert out.damaged == []
        assert restored_digest(target, src) == by_time[p.time], p.time
        shutil.rmtree(target)
    return len(points)


def test_200_rounds_through_5_percent_faults_with_retries(machine: Machine) -> None:
    faulty = FaultyBlobStore(LocalBlobStore(str(machine.vault)), RATE, seed=2026)
    store = RetryingBlobStore(faulty, sleep=lambda s: None)
    tally, by_time, reported = run_rounds(machine, store, random.Random(1), prune_every=25)
    assert faulty.faults["before"] > 20 and faulty.faults["after"] > 20  # faults did happen
    assert tally.backups_ok == ROUNDS, tally.messages
    assert tally.restores_ok == ROUNDS, tally.messages
    assert tally.prunes == ROUNDS // 25
    # The last prune (round 200) kept the newest KEEP points.
    assert verify_vault(machine, by_time, reported) == KEEP


def test_200_rounds_through_5_percent_faults_without_retries(machine: Machine) -> None:
    faulty = FaultyBlobStore(LocalBlobStore(str(machine.vault)), RATE, seed=2026)
    tally, by_time, reported = run_rounds(machine, faulty, random.Random(2), prune_every=25)
    assert tally.backups_failed > ROUNDS // 4, tally  # many jobs fail, each reported
    assert tally.backups_ok > 10, tally  # and those that succeed restore byte for byte
    assert tally.restores_failed > 0 and tally.restores_ok > 10, tally
    assert tally.prunes_failed > 0, tally
    assert verify_vault(machine, by_time, reported) >= len(reported)


class PointLandsThenFails(FaultyBlobStore):
    """Every recovery point lands, but its writer sees a failure (a lost reply)."""

    def put(self, name: str, data: bytes | memoryview) -> None:
        self.inner.put(name, data)
        if "/points/" in name:
            raise self._fail("after", "writing", name)


def test_a_point_that_landed_while_its_job_failed_is_whole(machine: Machine) -> None:
    store = PointLandsThenFails(LocalBlobStore(str(machine.vault)), 0.0)
    src = machine.tmp / "src"
    (src / "d").mkdir(parents=True)
    (src / "d" / "x").write_bytes(os.urandom(50_000))
    repo = open_repo(store, machine, FixedClock(START))
    with pytest.raises(CairnError, match="injected fault"):
        backup(repo, BackupOptions([str(src)], workers=1))
    assert verify_vault(machine, {START: tree_digest(src)}, []) == 1
