"""Restore treats the vault as untrusted: hostile names, planted symlinks and damaged data."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cairn.core.errors import CairnError, UnsafePath
from cairn.core.ids import random_id
from cairn.engine.backup import BackupOptions, backup
from cairn.engine.check import check
from cairn.engine.restore import RestoreOptions, restore
from cairn.vault.packs import DATA, TREE
from cairn.vault.points import RecoveryPoint
from cairn.vault.repository import Repository
from cairn.vault.tree import Node
from tests.conftest import Machine


def plant_point(
    repo: Repository, root_nodes: list[Node], extra: dict[bytes, list[Node]]
) -> RecoveryPoint:
    """Write a recovery point whose trees say whatever a hostile vault wants."""
    writer = repo.pack_writer()
    packs = []
    for nodes in [*extra.values(), root_nodes]:
        tree_id, plain = repo.tree_id(nodes)
        writer.add(TREE, tree_id, plain)
    info = writer.flush()
    assert info is not None
    packs.append(info)
    repo.write_segment(packs)
    root_id, _ = repo.tree_id(root_nodes)
    point = RecoveryPoint(random_id(), datetime.now(UTC), repo.machine, "evil", ["/"], root_id)
    repo.save_point(point)
    return point


def data_node(repo: Repository, name: bytes, content: bytes) -> Node:
    cid = repo.hasher.id_of(content)
    writer = repo.pack_writer()
    writer.add(DATA, cid, content)
    info = writer.flush()
    assert info is not None
    repo.write_segment([info])
    return Node(name=name, kind="file", mode=0o644, size=len(content), content=[cid])


@pytest.mark.parametrize("name", [b"..", b".", b"a/b", b"x\x00y", b""])
def test_hostile_names_are_refused(machine: Machine, name: bytes) -> None:
    repo = machine.repo()
    evil = data_node(repo, name, b"owned")
    point = plant_point(repo, [evil], {})
    target = machine.tmp / "target" / "inner"
    target.mkdir(parents=True)
    with pytest.raises(UnsafePath):
        restore(machine.repo(), point, RestoreOptions(target=str(target)))
    assert not (machine.tmp / "target" / "b").exists()
    assert os.listdir(target) == []


def test_dotdot_directory_cannot_climb_out_of_the_target(machine: Machine) -> None:
    repo = machine.repo()
    payload = data_node(repo, b"escaped.txt", b"owned")
    sub_id, _ = repo.tree_id([payload])
    evil_dir = Node(name=b"..", kind="dir", mode=0o755, subtree=sub_id)
    point = plant_point(repo, [evil_dir], {sub_id: [payload]})
    target = machine.tmp / "target"
    target.mkdir()
    with pytest.raises(UnsafePath):
        restore(machine.repo(), point, RestoreOptions(target=str(target)))
    assert not (machine.tmp / "escaped.txt").exists()


def test_planted_symlink_in_the_target_is_not_followed(machine: Machine) -> None:
    src = machine.tmp / "src"
    (src / "dir").mkdir(parents=True)
    (src / "dir" / "file.txt").write_text("from the backup")
    point = backup(machine.repo(), BackupOptions([str(src)])).point
    target = machine.tmp / "target"
    elsewhere = machine.tmp / "elsewhere"
    elsewhere.mkdir()
    planted = target / str(src).lstrip("/")
    planted.mkdir(parents=True)
    os.symlink(elsewhere, planted / "dir")
    with pytest.raises(CairnError) as e:
        restore(machine.repo(), point, RestoreOptions(target=str(target), conflict="overwrite"))
    # Refused, as a local problem (exit 1), not as damage in the vault (exit 14).
    assert e.value.exit_code == 1 and "symlink" in str(e.value)
    assert os.listdir(elsewhere) == []


def test_a_symlink_at_a_file_name_is_replaced_not_written_through(machine: Machine) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    (src / "file.txt").write_text("from the backup")
    point = backup(machine.repo(), BackupOptions([str(src)])).point
    victim = machine.tmp / "victim.txt"
    victim.write_text("do not touch")
    (src / "file.txt").unlink()
    os.symlink(victim, src / "file.txt")
    restore(machine.repo(), point, RestoreOptions(conflict="overwrite"))
    assert victim.read_text() == "do not touch"
    assert not os.path.islink(src / "file.txt")
    assert (src / "file.txt").read_text() == "from the backup"


def corrupt_one_data_pack(vault: Path) -> Path:
    packs = sorted(vault.glob("machines/*/packs/*/*"), key=lambda p: p.stat().st_size)
    victim = packs[-1]  # the biggest: a data pack
    data = bytearray(victim.read_bytes())
    data[100] ^= 0xFF
    victim.write_bytes(bytes(data))
    return victim


def test_damaged_data_is_reported_by_path_and_never_written(machine: Machine) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    (src / "precious.bin").write_bytes(os.urandom(1 << 20))
    point = backup(machine.repo(), BackupOptions([str(src)])).point
    corrupt_one_data_pack(machine.vault)
    target = machine.tmp / "r"
    result = restore(machine.repo(), point, RestoreOptions(target=str(target)))
    restored = target / str(src).lstrip("/") / "precious.bin"
    assert result.damaged == [str(restored)]
    assert not restored.exists()
    found = check(machine.repo(), read_data=True)
    assert any("damaged" in e for e in found.errors)
    assert check(machine.repo()).errors == []  # structure alone cannot see flipped data bytes


def test_missing_pack_is_found_by_a_structure_check(machine: Machine) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    (src / "a").write_text("a")
    backup(machine.repo(), BackupOptions([str(src)]))
    for p in machine.vault.glob("machines/*/packs/*/*"):
        p.unlink()
    errors = check(machine.repo()).errors
    assert any("missing" in e for e in errors)
