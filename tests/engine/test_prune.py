"""Prune: expired points go, data goes only after two listings and the grace period."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cairn.core.errors import DamageFound
from cairn.engine.backup import BackupOptions, backup
from cairn.engine.prune import prune
from cairn.engine.restore import RestoreOptions, restore
from tests.conftest import Machine, tree_digest

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def packs(vault: Path) -> set[str]:
    return {p.name for p in vault.glob("machines/*/packs/*/*") if not p.name.startswith(".")}


def pack_bytes(vault: Path) -> int:
    return sum(p.stat().st_size for p in vault.glob("machines/*/packs/*/*"))


def two_points(machine: Machine) -> tuple[str, str, Path]:
    src = machine.tmp / "src"
    src.mkdir()
    (src / "old.bin").write_bytes(os.urandom(3 << 20))
    (src / "kept.txt").write_text("kept in both")
    first = backup(machine.repo(), BackupOptions([str(src)])).point
    (src / "old.bin").unlink()
    (src / "new.bin").write_bytes(os.urandom(1 << 20))
    second = backup(machine.repo(), BackupOptions([str(src)])).point
    return first.id, second.id, src


def test_expired_point_data_waits_for_the_grace_period(machine: Machine) -> None:
    first, second, src = two_points(machine)
    before = packs(machine.vault)
    size_before = pack_bytes(machine.vault)
    grace = timedelta(hours=24)

    r1 = prune(machine.repo(), {first}, now=T0, grace=grace)
    assert r1.points_deleted == [first] and r1.packs_deleted == 0 and r1.packs_waiting >= 1
    assert packs(machine.vault) >= before  # nothing deleted on the strength of one listing
    machine.check_clean()

    r2 = prune(machine.repo(), set(), now=T0 + timedelta(hours=23), grace=grace)
    assert r2.packs_deleted == 0  # seen twice, but the grace period has not passed

    r3 = prune(machine.repo(), set(), now=T0 + timedelta(hours=25), grace=grace)
    assert r3.packs_deleted >= 1 and r3.bytes_reclaimed >= 3 << 20
    assert pack_bytes(machine.vault) < size_before - (2 << 20)
    machine.check_clean()
    target = machine.tmp / "r"
    restore(machine.repo(), machine.repo().find_point(second), RestoreOptions(target=str(target)))
    assert tree_digest(target / str(src).lstrip("/")) == tree_digest(src)


def test_dry_run_changes_nothing(machine: Machine) -> None:
    first, _, _ = two_points(machine)
    files = sorted(p for p in machine.vault.rglob("*") if p.is_file())
    result = prune(machine.repo(), {first}, now=T0, dry_run=True)
    assert result.points_deleted == [first]
    assert sorted(p for p in machine.vault.rglob("*") if p.is_file()) == files


def test_missing_referenced_data_stops_prune_deleting_nothing(machine: Machine) -> None:
    first, _second, _ = two_points(machine)
    for victim in machine.vault.glob("machines/*/packs/*/*"):
        victim.unlink()  # every pack: the kept point's data is surely among them
    files = sorted(p for p in machine.vault.rglob("*") if p.is_file())
    with pytest.raises(DamageFound) as e:
        prune(machine.repo(), {first}, now=T0, grace=timedelta(0))
    assert e.value.exit_code == 14
    assert sorted(p for p in machine.vault.rglob("*") if p.is_file()) == files


def test_a_pack_used_again_between_prunes_is_not_deleted(machine: Machine) -> None:
    first, second, src = two_points(machine)
    prune(machine.repo(), {first, second}, now=T0, grace=timedelta(0))
    # Everything is unreferenced now; a new backup of the same data reuses those packs.
    (src / "new.bin").unlink()
    (src / "old.bin").write_bytes(b"")  # placeholder so the folder changes
    point = backup(machine.repo(), BackupOptions([str(src)])).point
    r = prune(machine.repo(), set(), now=T0 + timedelta(days=2), grace=timedelta(0))
    machine.check_clean()
    target = machine.tmp / "r"
    restore(machine.repo(), machine.repo().find_point(point.id), RestoreOptions(target=str(target)))
    assert (target / str(src).lstrip("/") / "kept.txt").read_text() == "kept in both"
    assert r.points_kept == 1


def test_prune_removes_temp_files_of_writes_that_never_finished(machine: Machine) -> None:
    """A write killed half way leaves its `.tmp-*` file beside the blobs. Prune removes the ones
    an hour old, never a newer one (its write may be in progress), and a dry run none."""
    two_points(machine)
    pack_dir = next(machine.vault.glob("machines/*/packs/*"))
    stale = pack_dir / ".tmp-0123456789abcdef"
    stale.write_bytes(b"x" * 5000)
    two_hours_ago = (T0 - timedelta(hours=2)).timestamp()
    os.utime(stale, (two_hours_ago, two_hours_ago))
    fresh = machine.vault / ".tmp-fedcba9876543210"
    fresh.write_bytes(b"y" * 10)
    ten_minutes_ago = (T0 - timedelta(minutes=10)).timestamp()
    os.utime(fresh, (ten_minutes_ago, ten_minutes_ago))

    dry = prune(machine.repo(), set(), now=T0, dry_run=True)
    assert dry.temp_files_removed == 0 and stale.exists()

    result = prune(machine.repo(), set(), now=T0)
    assert (result.temp_files_removed, result.temp_bytes_removed) == (1, 5000)
    assert not stale.exists() and fresh.exists()
    machine.check_clean()

    later = prune(machine.repo(), set(), now=T0 + timedelta(hours=1))
    assert later.temp_files_removed == 1 and not fresh.exists()
    machine.check_clean()
