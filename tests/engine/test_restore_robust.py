"""Restore against hostile trees: a folder listed as its own ancestor, and a small vault whose
trees reuse subtrees to expand into millions of entries."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cairn.core.errors import DamageFound
from cairn.engine.backup import BackupOptions, backup
from cairn.engine.listing import list_point
from cairn.engine.restore import RestoreOptions, restore
from cairn.vault.repository import Repository
from cairn.vault.tree import Node
from tests.conftest import Machine
from tests.engine.test_untrusted_vault import data_node, plant_point


def count_entries(root: Path) -> int:
    return sum(len(dirs) + len(files) for _p, dirs, files in os.walk(root))


def test_a_tree_reusing_subtrees_to_expand_exponentially_is_refused(machine: Machine) -> None:
    repo = machine.repo()
    leaf = data_node(repo, b"x", b"x")
    trees: dict[bytes, list[Node]] = {}
    level = [leaf]
    for _ in range(15):  # 2**15 files and 2**16 folders from a few KB of trees
        tree_id, _ = repo.tree_id(level)
        trees[tree_id] = level
        level = [
            Node(name=b"a", kind="dir", mode=0o755, subtree=tree_id),
            Node(name=b"b", kind="dir", mode=0o755, subtree=tree_id),
        ]
    point = plant_point(repo, level, trees)
    target = machine.tmp / "target"
    with pytest.raises(DamageFound, match="more entries than the recovery point holds"):
        restore(machine.repo(), point, RestoreOptions(target=str(target)))
    assert count_entries(target) <= 10_100
    machine.check_clean()


def test_a_folder_listed_as_its_own_ancestor_is_refused(
    machine: Machine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A keyed-hash tree id cannot name a tree that contains it, so a cycle means a vault (or an
    # index) lying about what an id holds: restore must stop, not loop.
    repo = machine.repo()
    loop_id = b"\x01" * 32
    looping = [Node(name=b"again", kind="dir", mode=0o755, subtree=loop_id)]
    point = plant_point(repo, [Node(name=b"top", kind="dir", mode=0o755, subtree=loop_id)], {})
    real = Repository.load_tree

    def lying(self: Repository, index: object, tree_id: bytes) -> list[Node]:
        if tree_id == loop_id:
            return looping
        return real(self, index, tree_id)  # type: ignore[arg-type]

    monkeypatch.setattr(Repository, "load_tree", lying)
    target = machine.tmp / "target"
    with pytest.raises(DamageFound, match="its own ancestor"):
        restore(machine.repo(), point, RestoreOptions(target=str(target)))
    assert count_entries(target) <= 3
    with pytest.raises(DamageFound, match="its own ancestor"):
        list(list_point(machine.repo(), point))


def test_restoring_twice_with_copy_makes_no_copy_of_identical_files(machine: Machine) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    (src / "same.txt").write_text("unchanged")
    (src / "report.txt").write_text("version 1")
    point = backup(machine.repo(), BackupOptions([str(src)])).point
    (src / "report.txt").write_text("version 2")
    stamp = point.time.astimezone().strftime("%Y-%m-%d %H-%M")

    first = restore(machine.repo(), point, RestoreOptions(conflict="copy"))
    assert (first.copies, first.identical, first.overwrites, first.skipped) == (1, 1, 0, 0)
    assert (src / f"{stamp} Copy of report.txt").read_text() == "version 1"
    second = restore(machine.repo(), point, RestoreOptions(conflict="copy"))
    assert (second.copies, second.identical) == (0, 2)
    assert sorted(os.listdir(src)) == [f"{stamp} Copy of report.txt", "report.txt", "same.txt"]

    # Same size and time but other bytes is not identical: it gets its copy.
    os.unlink(src / f"{stamp} Copy of report.txt")
    st = os.stat(src / "same.txt")
    (src / "same.txt").write_text("UNCHANGED")
    os.utime(src / "same.txt", ns=(st.st_atime_ns, st.st_mtime_ns))
    third = restore(machine.repo(), point, RestoreOptions(conflict="copy"))
    assert (third.copies, third.identical) == (2, 0)
    assert (src / f"{stamp} Copy of same.txt").read_text() == "unchanged"

    over = restore(machine.repo(), point, RestoreOptions(conflict="overwrite"))
    assert (over.overwrites, over.identical) == (2, 0)
    again = restore(machine.repo(), point, RestoreOptions(conflict="overwrite"))
    assert (again.overwrites, again.identical) == (0, 2)  # nothing rewritten needlessly
    skip = restore(machine.repo(), point, RestoreOptions(conflict="skip"))
    assert skip.skipped == 2
    machine.check_clean()


def test_a_sparse_file_is_restored_sparse(machine: Machine) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    sparse = src / "disk.img"
    size = 256 << 20
    with open(sparse, "wb") as f:
        f.write(b"head" * 1000)
        f.seek(100 << 20)
        f.write(b"middle" * 1000)
        f.truncate(size)  # ends in a hole
    assert os.stat(sparse).st_blocks * 512 < (1 << 20)
    point = backup(machine.repo(), BackupOptions([str(src)])).point
    target = machine.tmp / "target"
    result = restore(machine.repo(), point, RestoreOptions(target=str(target)))
    got = target / str(src).lstrip("/") / "disk.img"
    st = os.stat(got)
    assert st.st_size == size
    assert st.st_blocks * 512 < (16 << 20), f"{st.st_blocks * 512} bytes on disk"
    with open(got, "rb") as f, open(sparse, "rb") as g:
        while block := g.read(8 << 20):
            assert f.read(8 << 20) == block
    assert result.files == 1
    machine.check_clean()
