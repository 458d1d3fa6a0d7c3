"""A chunk or tree stored twice: when the copy the index gives first is damaged or gone, readers
(restore, ls, check) fall back to the other copy instead of calling the data lost."""

from __future__ import annotations

import os
from pathlib import Path

from cairn.engine.backup import BackupOptions, backup
from cairn.engine.check import check
from cairn.engine.listing import list_point
from cairn.engine.restore import RestoreOptions, restore
from cairn.vault.packs import DATA, TREE
from cairn.vault.repository import Repository
from tests.conftest import Machine, tree_digest


def second_copy(repo: Repository, kind: int, blob_id: bytes) -> Path:
    """Write a second copy of a blob in a pack of its own, named by a segment of its own."""
    index = repo.load_index()
    plain = repo.read_blob(index, blob_id)
    writer = repo.pack_writer()
    writer.add(kind, blob_id, plain)
    info = writer.flush()
    assert info is not None
    repo.write_segment([info])
    return Path(repo.layout.pack(info.pack_id))


def damage_first_copy(machine: Machine, blob_id: bytes) -> Path:
    """Flip one byte inside the copy of a blob that the index gives first; that pack's path."""
    repo = machine.repo()
    loc = repo.load_index().get(blob_id)
    assert loc is not None
    path = machine.vault / repo.layout.pack(loc.pack_id)
    data = bytearray(path.read_bytes())
    data[loc.offset + loc.length // 2] ^= 0x01
    path.write_bytes(bytes(data))
    return path


def test_restore_reads_the_second_copy_of_a_chunk_whose_first_copy_is_damaged(
    machine: Machine,
) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    (src / "a.bin").write_bytes(os.urandom(200_000))  # alone in its pack
    point = backup(machine.repo(), BackupOptions([str(src)])).point
    repo = machine.repo()
    chunk = repo.hasher.id_of((src / "a.bin").read_bytes())
    copy = machine.vault / second_copy(repo, DATA, chunk)
    first = damage_first_copy(machine, chunk)
    assert copy.exists()  # which copy the index gives first depends on the listing order

    target = machine.tmp / "r"
    result = restore(
        machine.repo(), machine.repo().find_point(point.id), RestoreOptions(target=str(target))
    )
    assert result.damaged == []
    assert tree_digest(target / str(src).lstrip("/")) == tree_digest(src)
    # The damage is still damage: check names the damaged pack, and only that.
    errors = check(machine.repo(), read_data=True).errors
    assert errors and all(first.name[:16] in e for e in errors), errors
    first.unlink()  # a lost first copy is read from the second just the same
    target2 = machine.tmp / "r2"
    result = restore(
        machine.repo(), machine.repo().find_point(point.id), RestoreOptions(target=str(target2))
    )
    assert result.damaged == []
    assert tree_digest(target2 / str(src).lstrip("/")) == tree_digest(src)


def test_ls_and_restore_read_the_second_copy_of_a_damaged_tree(machine: Machine) -> None:
    src = machine.tmp / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "c.txt").write_text("c")
    point = backup(machine.repo(), BackupOptions([str(src)])).point
    repo = machine.repo()
    copy = machine.vault / second_copy(repo, TREE, point.tree)
    first = damage_first_copy(machine, point.tree)
    assert copy.exists()  # which copy the index gives first depends on the listing order

    repo = machine.repo()
    listed = list(list_point(repo, repo.find_point(point.id), "/"))
    assert not any(e.damaged for e in listed), listed
    names = [e.path for e in listed]
    assert any(n.endswith("sub") for n in names), names
    target = machine.tmp / "r"
    result = restore(
        machine.repo(), machine.repo().find_point(point.id), RestoreOptions(target=str(target))
    )
    assert result.damaged == []
    assert tree_digest(target / str(src).lstrip("/")) == tree_digest(src)
    errors = check(machine.repo(), read_data=True).errors
    assert errors and all(first.name[:16] in e for e in errors), errors
