"""A vault rolled back, or old objects replayed into it, is named against what this machine last
saw (engine/seen.py): by `check` (exit 14) and by every backup before it builds on the vault's
newest point (a warning, exit 3), until `repair` accepts the vault as it is."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cairn.core.events import Reporter
from cairn.core.ids import random_id
from cairn.engine.backup import BackupOptions, backup
from cairn.engine.check import check
from cairn.engine.prune import prune
from cairn.engine.repair import repair
from cairn.vault.points import RecoveryPoint
from tests.conftest import Machine

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def source(machine: Machine) -> Path:
    src = machine.tmp / "src"
    src.mkdir()
    (src / "a.txt").write_text("first\n")
    return src


def point_file(machine: Machine, point_id: str) -> Path:
    return next(machine.vault.glob(f"machines/*/points/{point_id}"))


def test_a_vault_rolled_back_to_an_older_copy_is_named_by_check_and_by_the_next_backup(
    machine: Machine,
) -> None:
    src = source(machine)
    backup(machine.repo(), BackupOptions([str(src)]))
    old_copy = machine.tmp / "vault-copy"
    shutil.copytree(machine.vault, old_copy)
    (src / "a.txt").write_text("second\n")
    newer = backup(machine.repo(), BackupOptions([str(src)])).point
    shutil.rmtree(machine.vault)
    shutil.copytree(old_copy, machine.vault)  # the whole vault goes back to before `newer`

    errors = check(machine.repo()).errors
    assert any(newer.id[:16] in e and "rolled back" in e for e in errors), errors
    result = backup(machine.repo(), BackupOptions([str(src)]))
    assert result.warnings >= 1
    assert result.point.parent != newer.id  # it had to build on the older one: said so
    repaired = repair(machine.repo(), now=T0)
    assert repaired.points_vanished == [newer.id]
    machine.check_clean()


def test_the_backup_names_the_rollback_in_its_warnings(machine: Machine) -> None:
    src = source(machine)
    first = backup(machine.repo(), BackupOptions([str(src)])).point
    second = backup(machine.repo(), BackupOptions([str(src)])).point
    point_file(machine, second.id).unlink()
    reporter = Reporter()
    backup(machine.repo(), BackupOptions([str(src)]), reporter)
    texts = [w.message for w in reporter.warnings]
    assert any(second.id[:16] in t and "builds on the newest point" in t for t in texts), texts
    assert first.id  # the backup built on `first`, the newest left
    repair(machine.repo(), now=T0)
    machine.check_clean()


def test_a_point_prune_deleted_put_back_into_the_vault_is_named_as_a_replay(
    machine: Machine,
) -> None:
    src = source(machine)
    first = backup(machine.repo(), BackupOptions([str(src)])).point
    (src / "a.txt").write_text("second\n")
    backup(machine.repo(), BackupOptions([str(src)]))
    kept = point_file(machine, first.id).read_bytes()
    prune(machine.repo(), {first.id}, now=T0)
    assert not any(machine.vault.glob(f"machines/*/points/{first.id}"))
    machine.check_clean()
    # Someone with write access puts the old point back (from an older copy of the vault).
    (next(machine.vault.glob("machines/*/points")) / first.id).write_bytes(kept)

    errors = check(machine.repo()).errors
    assert any(first.id[:16] in e and "in the vault again" in e for e in errors), errors
    reporter = Reporter()
    backup(machine.repo(), BackupOptions([str(src)]), reporter)
    assert any(first.id[:16] in w.message for w in reporter.warnings)
    repair(machine.repo(), now=T0)
    machine.check_clean()


def test_a_prune_killed_between_marking_and_deleting_is_not_taken_for_a_replay(
    machine: Machine,
) -> None:
    src = source(machine)
    first = backup(machine.repo(), BackupOptions([str(src)])).point
    backup(machine.repo(), BackupOptions([str(src)]))
    repo = machine.repo()
    assert repo.memory is not None
    repo.memory.deleted([first.id])  # what prune writes down before its delete; then kill -9
    machine.check_clean()
    prune(machine.repo(), {first.id}, now=T0)  # the next prune deletes it again
    machine.check_clean()
    assert os.listdir(next(machine.vault.glob("machines/*/points")))


def test_an_older_point_presented_as_newer_is_named_and_not_built_on(machine: Machine) -> None:
    # A replay sealed with the right keys: the first point's tree under a new id, dated a day
    # ahead, so that it would be "latest" and the base of the next backup.
    src = source(machine)
    old = backup(machine.repo(), BackupOptions([str(src)])).point
    (src / "a.txt").write_text("second\n")
    newest = backup(machine.repo(), BackupOptions([str(src)])).point
    repo = machine.repo()
    forged = RecoveryPoint(
        random_id(),
        datetime.now(UTC) + timedelta(days=1),
        repo.machine,
        "evil",
        old.paths,
        old.tree,
    )
    repo.save_point(forged)

    errors = check(machine.repo()).errors
    assert any(forged.id[:16] in e and "presented as newer" in e for e in errors), errors
    reporter = Reporter()
    again = backup(machine.repo(), BackupOptions([str(src)]), reporter).point
    assert any(forged.id[:16] in w.message for w in reporter.warnings)
    assert again.parent == newest.id  # built on the real newest point, not the replay
    point_file(machine, forged.id).unlink()  # the user removes the replay
    repair(machine.repo(), now=T0)
    machine.check_clean()


def test_an_index_segment_prune_deleted_put_back_is_named_and_repair_supersedes_it(
    machine: Machine,
) -> None:
    src = source(machine)
    first = backup(machine.repo(), BackupOptions([str(src)])).point
    index_dir = next(machine.vault.glob("machines/*/index"))
    old_segments = {p.name: p.read_bytes() for p in index_dir.iterdir()}
    (src / "a.txt").write_text("second\n")
    backup(machine.repo(), BackupOptions([str(src)]))
    # Two prunes: the first supersedes and deletes the old segments, the second supersedes (and
    # deletes) the segment that named them as superseded, so nothing in the vault does any more.
    prune(machine.repo(), {first.id}, now=T0)
    prune(machine.repo(), set(), now=T0 + timedelta(days=30))
    assert not set(old_segments) & {p.name for p in index_dir.iterdir()}
    machine.check_clean()
    for name, data in old_segments.items():  # an older copy of the index is put back
        (index_dir / name).write_bytes(data)

    errors = check(machine.repo()).errors
    assert any(name[:16] in e and "in force again" in e for name in old_segments for e in errors), (
        errors
    )
    repair(machine.repo(), now=T0 + timedelta(days=30))
    machine.check_clean()
