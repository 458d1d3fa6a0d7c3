"""Bit flips and truncation (issue 16): in random packs, index segments, recovery points, trees and
key files, every one is found by `check --read-data`; restore brings back every file the damage
does not touch and names those it does; `repair`, then the next backup, upload the lost data again.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cairn.engine.backup import BackupOptions, backup
from cairn.engine.check import check
from cairn.engine.prune import prune
from cairn.engine.repair import repair
from cairn.engine.restore import RestoreOptions, restore
from cairn.vault.repository import Repository
from tests.conftest import Machine, tree_digest

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
Digest = dict[str, tuple[str, str]]


def restore_to(machine: Machine, point_id: str, target: Path) -> tuple[Digest, list[str]]:
    repo = machine.repo()
    shutil.rmtree(target, ignore_errors=True)
    out = restore(repo, repo.find_point(point_id), RestoreOptions(target=str(target), workers=1))
    return tree_digest(target), out.damaged


def chunk_pack(repo: Repository, data: bytes) -> tuple[str, int, int]:
    """The pack, offset and length of the one chunk `data` is."""
    loc = repo.load_index().get(repo.hasher.id_of(data))
    assert loc is not None
    return loc.pack_id, loc.offset, loc.length


def test_repair_salvages_a_pack_with_a_flipped_byte_and_the_next_backup_uploads_it_again(
    machine: Machine,
) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    a, b = os.urandom(200_000), os.urandom(200_000)  # one chunk each, in one pack
    (src / "a.bin").write_bytes(a)
    (src / "b.bin").write_bytes(b)
    point = backup(machine.repo(), BackupOptions([str(src)], workers=1)).point
    repo = machine.repo()
    pack_id, offset, length = chunk_pack(repo, a)
    assert chunk_pack(repo, b)[0] == pack_id
    path = machine.vault / repo.layout.pack(pack_id)
    data = bytearray(path.read_bytes())
    data[offset + length // 2] ^= 0x04
    path.write_bytes(bytes(data))

    errors = check(machine.repo(), read_data=True).errors
    assert any(pack_id[:16] in e for e in errors), errors
    digest, damaged = restore_to(machine, point.id, machine.tmp / "r1")
    assert [Path(d).name for d in damaged] == ["a.bin"]
    assert digest[str(src / "b.bin").lstrip("/")] == tree_digest(src)["b.bin"]

    result = repair(machine.repo(), now=T0)
    assert result.points_damaged == [point.id]
    second = backup(machine.repo(), BackupOptions([str(src)], workers=1)).point
    assert second.stats.bytes_added >= len(a)  # a.bin's chunk went up again ...
    assert second.stats.bytes_added < len(a) + len(b)  # ... and b.bin's was salvaged
    digest, damaged = restore_to(machine, second.id, machine.tmp / "r2")
    assert damaged == []
    assert tree_digest(machine.tmp / "r2" / str(src).lstrip("/")) == tree_digest(src)
    assert repair(machine.repo(), now=T0).points_healed == [point.id]  # whole again
    for hours in (0, 1):
        prune(machine.repo(), set(), now=T0 + timedelta(hours=hours), grace=timedelta(0))
    assert not path.exists()  # the damaged pack went once nothing named it
    machine.check_clean()
    digest, damaged = restore_to(machine, point.id, machine.tmp / "r3")
    assert damaged == []
