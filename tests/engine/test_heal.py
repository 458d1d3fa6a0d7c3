"""Healing: a lost pack, damaged index segments and points, a damaged kept copy, a damaged state."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cairn.core.errors import DamageFound
from cairn.core.events import Reporter
from cairn.engine.backup import BackupOptions, backup
from cairn.engine.check import check
from cairn.engine.prune import prune
from cairn.engine.repair import repair
from cairn.engine.restore import RestoreOptions, restore
from cairn.vault.packs import DATA
from tests.conftest import Machine, tree_digest

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def data_pack_of(machine: Machine, name: str, src: Path) -> Path:
    """The pack file holding the first chunk of `src/name` in the latest point."""
    repo = machine.repo()
    index = repo.load_index()
    point = repo.find_point("latest")
    nodes = repo.load_tree(index, point.tree)
    for part in str(src).strip("/").split("/"):
        node = next(n for n in nodes if n.name == part.encode())
        assert node.subtree is not None
        nodes = repo.load_tree(index, node.subtree)
    node = next(n for n in nodes if n.name == name.encode())
    loc = index.get(node.content[0])
    assert loc is not None
    return machine.vault / repo.layout.pack(loc.pack_id)


def restored(machine: Machine, point_id: str, src: Path) -> dict[str, tuple[str, str]]:
    target = machine.tmp / f"r-{point_id[:8]}"
    restore(machine.repo(), machine.repo().find_point(point_id), RestoreOptions(target=str(target)))
    return tree_digest(target / str(src).lstrip("/"))


def test_a_lost_pack_is_uploaded_again_by_the_next_backup(machine: Machine) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    (src / "big.bin").write_bytes(os.urandom(3 << 20))
    (src / "small.txt").write_text("small")
    first = backup(machine.repo(), BackupOptions([str(src)])).point
    lost = data_pack_of(machine, "big.bin", src)
    lost.unlink()
    shutil.copy(src / "big.bin", src / "copy.bin")  # a fresh copy of the lost content
    before = check(machine.repo())
    assert any(lost.name[:16] in e and "missing" in e for e in before.errors), before.errors

    reporter = Reporter()
    second = backup(machine.repo(), BackupOptions([str(src)]), reporter).point
    assert any(lost.name[:16] in w.message for w in reporter.warnings), reporter.warnings
    assert second.stats.bytes_added >= 3 << 20  # uploaded again, not "added 0 B"
    assert restored(machine, second.id, src) == tree_digest(src)

    # Chunks are named by their content: the upload heals the first point as well.
    machine.check_clean()
    assert restored(machine, first.id, src) == {
        k: v for k, v in tree_digest(src).items() if k != "copy.bin"
    }
    result = prune(machine.repo(), {first.id}, now=T0, grace=timedelta(0))
    assert result.points_deleted == [first.id]
    machine.check_clean()


def lose_a_deleted_file(machine: Machine) -> tuple[str, str, Path, Path]:
    """Two points; the pack of a file only the first point has is deleted."""
    src = machine.tmp / "src"
    src.mkdir()
    (src / "gone.bin").write_bytes(os.urandom(2 << 20))  # alone in its pack
    first = backup(machine.repo(), BackupOptions([str(src)])).point
    lost = data_pack_of(machine, "gone.bin", src)
    shutil.move(src / "gone.bin", machine.tmp / "saved.bin")
    (src / "new.bin").write_bytes(os.urandom(1 << 20))
    (src / "kept.txt").write_text("kept")
    second = backup(machine.repo(), BackupOptions([str(src)])).point
    lost.unlink()
    return first.id, second.id, src, lost


def test_repair_rebuilds_the_index_and_marks_points_that_lost_data(machine: Machine) -> None:
    first, second, src, lost = lose_a_deleted_file(machine)
    with pytest.raises(DamageFound) as stopped:
        prune(machine.repo(), set(), now=T0, grace=timedelta(0))
    assert "cairn repair" in str(stopped.value)

    result = repair(machine.repo(), now=T0)
    assert result.points_damaged == [first]
    assert any(lost.name[:16] in m for m in result.missing_packs)
    points = {p.id: p for p in machine.repo().list_points()}
    assert points[first].status == "damaged" and points[second].status == "completed"
    assert machine.repo().damaged_points() == {first}

    # Prune goes on: the damaged point is reported; what it still reaches is kept.
    reporter = Reporter()
    prune(machine.repo(), set(), now=T0, grace=timedelta(0), reporter=reporter)
    prune(machine.repo(), set(), now=T0 + timedelta(hours=1), grace=timedelta(0))
    assert any(first[:8] in w.message for w in reporter.warnings)
    assert restored(machine, second, src) == tree_digest(src)

    check_result = check(machine.repo(), read_data=True)
    assert check_result.errors and all(first[:8] in e for e in check_result.errors)


def test_repair_of_a_sound_vault_finds_nothing_and_changes_no_point(machine: Machine) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    (src / "a.txt").write_text("a")
    point = backup(machine.repo(), BackupOptions([str(src)])).point
    result = repair(machine.repo(), now=T0)
    assert result.points_damaged == [] and result.missing_packs == []
    assert result.packs_indexed >= 2
    assert restored(machine, point.id, src) == tree_digest(src)
    machine.check_clean()


def test_repair_heals_a_point_whose_lost_data_a_backup_uploaded_again(machine: Machine) -> None:
    first, _second, src, _lost = lose_a_deleted_file(machine)
    assert repair(machine.repo(), now=T0).points_damaged == [first]
    # The lost file is found again (on another disk, say) and backed up: the data is whole again.
    shutil.copy(machine.tmp / "saved.bin", src / "gone.bin")
    backup(machine.repo(), BackupOptions([str(src)]))
    result = repair(machine.repo(), now=T0)
    assert result.points_damaged == [] and result.points_healed == [first]
    assert machine.repo().damaged_points() == set()
    assert {p.status for p in machine.repo().list_points()} == {"completed"}
    machine.check_clean()


def flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x40
    path.write_bytes(bytes(data))


def test_a_damaged_point_and_a_stray_file_are_skipped_and_named(machine: Machine) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    (src / "old.bin").write_bytes(os.urandom(1 << 20))
    first = backup(machine.repo(), BackupOptions([str(src)])).point
    (src / "old.bin").unlink()
    (src / "a.txt").write_text("a")
    second = backup(machine.repo(), BackupOptions([str(src)])).point
    points_dir = machine.vault / "machines/testbox/points"
    flip(points_dir / second.id)
    stray = "ab" * 32
    (points_dir / stray).write_bytes(b"not a point")
    (points_dir / "README").write_text("left here by someone")

    reporter = Reporter()
    listed = machine.repo().list_points(on_damage=reporter.warn)
    assert [p.id for p in listed] == [first.id]
    warned = " ".join(w.message for w in reporter.warnings)
    assert second.id[:16] in warned and stray[:16] in warned

    reporter = Reporter()
    third = backup(machine.repo(), BackupOptions([str(src)]), reporter).point
    assert any(second.id[:16] in w.message for w in reporter.warnings)
    assert restored(machine, third.id, src) == tree_digest(src)

    # Prune deletes the expired point but no data: the damaged point may need any of it.
    packs_before = sorted(p.name for p in machine.vault.glob("machines/*/packs/*/*"))
    reporter = Reporter()
    result = prune(machine.repo(), {first.id}, now=T0, grace=timedelta(0), reporter=reporter)
    prune(machine.repo(), set(), now=T0 + timedelta(hours=1), grace=timedelta(0))
    assert result.points_deleted == [first.id] and result.packs_deleted == 0
    assert sorted(p.name for p in machine.vault.glob("machines/*/packs/*/*")) == packs_before
    assert any(second.id[:16] in w.message for w in reporter.warnings)
    errors = check(machine.repo(), read_data=True).errors
    assert errors and all(second.id[:8] in e or stray[:8] in e for e in errors), errors


def test_a_damaged_index_segment_is_named_and_the_packs_indexed_again(machine: Machine) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    (src / "a.bin").write_bytes(os.urandom(1 << 20))
    (src / "b.txt").write_text("b")
    point = backup(machine.repo(), BackupOptions([str(src)])).point
    segments = list((machine.vault / "machines/testbox/index").iterdir())
    for seg in segments:
        flip(seg)

    assert restored(machine, point.id, src) == tree_digest(src)
    errors = check(machine.repo(), read_data=True).errors
    assert len(errors) == len(segments) and all("index segment" in e for e in errors), errors
    reporter = Reporter()
    machine.repo().load_index(on_damage=reporter.warn)
    assert all(any(s.name[:16] in w.message for w in reporter.warnings) for s in segments)

    (src / "c.txt").write_text("c")
    reporter = Reporter()
    second = backup(machine.repo(), BackupOptions([str(src)]), reporter).point
    assert second.stats.bytes_added < 1 << 20  # the data was found again, not uploaded again
    assert any(segments[0].name[:16] in w.message for w in reporter.warnings)
    errors = check(machine.repo(), read_data=True).errors
    assert errors and all("index segment" in e for e in errors), errors
    prune(machine.repo(), set(), now=T0, grace=timedelta(0))  # supersedes the damaged segments
    machine.check_clean()
    assert restored(machine, second.id, src) == tree_digest(src)


def test_prune_keeps_the_intact_copy_when_the_copy_it_would_keep_is_damaged(
    machine: Machine,
) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    (src / "a.txt").write_bytes(os.urandom(1000))
    point = backup(machine.repo(), BackupOptions([str(src)])).point
    repo = machine.repo()
    original = data_pack_of(machine, "a.txt", src)
    # A second copy of the same chunk in a pack of its own (as two workers meeting it would do).
    writer = repo.pack_writer()
    writer.add(DATA, repo.hasher.id_of((src / "a.txt").read_bytes()), (src / "a.txt").read_bytes())
    copy_info = writer.flush()
    assert copy_info is not None
    repo.write_segment([copy_info])
    copy = machine.vault / repo.layout.pack(copy_info.pack_id)
    kept, other = sorted([original, copy], key=lambda p: p.name)  # prune keeps the first by id
    data = bytearray(kept.read_bytes())
    data[10] ^= 0x01  # inside the sealed chunk
    kept.write_bytes(bytes(data))

    reporter = Reporter()
    for hours in (0, 1, 2):
        prune(
            machine.repo(),
            set(),
            now=T0 + timedelta(hours=hours),
            grace=timedelta(0),
            reporter=reporter,
        )
    assert other.exists(), "prune deleted the only intact copy"
    assert any(kept.name[:16] in w.message for w in reporter.warnings), reporter.warnings
    # The damaged copy removed, repair indexes the intact one and the point restores whole.
    kept.unlink()
    assert repair(machine.repo(), now=T0).points_damaged == []
    assert restored(machine, point.id, src) == tree_digest(src)
    machine.check_clean()


def test_a_damaged_prune_state_is_found_by_check_and_replaced_by_prune(machine: Machine) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    (src / "a.txt").write_text("a")
    backup(machine.repo(), BackupOptions([str(src)]))
    prune(machine.repo(), set(), now=T0)
    states = list((machine.vault / "machines/testbox/prune").iterdir())
    assert len(states) == 1
    flip(states[0])
    errors = check(machine.repo()).errors
    assert len(errors) == 1 and states[0].name[:16] in errors[0] and "prune state" in errors[0]

    reporter = Reporter()
    prune(machine.repo(), set(), now=T0 + timedelta(hours=1), reporter=reporter)
    assert any(states[0].name[:16] in w.message for w in reporter.warnings)
    assert not states[0].exists()
    machine.check_clean()
    prune(machine.repo(), set(), now=T0 + timedelta(hours=2))
    machine.check_clean()


def test_check_reports_a_point_deleted_behind_the_machines_back(machine: Machine) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    (src / "a.txt").write_text("a")
    first = backup(machine.repo(), BackupOptions([str(src)])).point
    second = backup(machine.repo(), BackupOptions([str(src)])).point
    third = backup(machine.repo(), BackupOptions([str(src)])).point
    prune(machine.repo(), {first.id}, now=T0)  # deleted by prune: expected to be gone
    machine.check_clean()
    (machine.vault / "machines/testbox/points" / second.id).unlink()
    errors = check(machine.repo()).errors
    assert len(errors) == 1 and second.id[:16] in errors[0] and "rolled back" in errors[0]
    assert repair(machine.repo(), now=T0).points_vanished == [second.id]
    machine.check_clean()
    assert [p.id for p in machine.repo().list_points()] == [third.id]
