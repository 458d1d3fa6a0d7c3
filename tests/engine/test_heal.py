"""Healing: a lost pack, damaged index segments and points, a damaged kept copy, a damaged state."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cairn.core.events import Reporter
from cairn.engine.backup import BackupOptions, backup
from cairn.engine.check import check
from cairn.engine.prune import prune
from cairn.engine.restore import RestoreOptions, restore
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
