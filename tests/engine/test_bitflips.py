"""Bit flips and truncation (issue 16): in random packs, index segments, recovery points, trees and
key files, every one is found by `check --read-data`; restore brings back every file the damage
does not touch and names those it does; `repair`, then the next backup, upload the lost data again.
"""

from __future__ import annotations

import os
import random
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cairn.core.events import Reporter
from cairn.engine.backup import BackupOptions, backup
from cairn.engine.check import check
from cairn.engine.prune import prune
from cairn.engine.repair import repair
from cairn.engine.restore import RestoreOptions, restore
from cairn.vault.packs import TREE
from cairn.vault.repository import Repository
from tests.conftest import Machine, tree_digest
from tests.reliability import record, scale

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
Digest = dict[str, tuple[str, str]]


@pytest.fixture(autouse=True)
def no_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    """Durability is not what these tests are about; fsync only costs time here."""
    monkeypatch.setattr(os, "fsync", lambda fd: None)


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


# --- 50 random flips and truncations ------------------------------------------------------------

KINDS = ("pack", "tree", "segment", "point", "key")


@dataclass
class Shape:
    """What one recovery point holds: each file's chunks, each folder's tree (paths relative)."""

    files: dict[str, list[bytes]]
    dirs: dict[str, bytes]


def shape_of(repo: Repository, tree: bytes) -> Shape:
    index = repo.load_index()
    shape = Shape({}, {"": tree})
    stack = [("", tree)]
    while stack:
        base, tid = stack.pop()
        for n in repo.load_tree(index, tid):
            path = f"{base}/{n.name.decode()}".lstrip("/")
            if n.subtree is not None:
                shape.dirs[path] = n.subtree
                stack.append((path, n.subtree))
            elif n.kind == "file":
                shape.files[path] = list(n.content)
    return shape


def relative(path: str, prefix: str) -> str:
    """A path of the point relative to the source folder ("" for it and every folder above)."""
    return path[len(prefix) + 1 :] if path.startswith(prefix + "/") else ""


def make_source(src: Path, rng: random.Random) -> None:
    for d in range(3):
        folder = src / f"d{d}" / "inner"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(3):
            size = rng.choice([40, 3_000, 150_000])
            (src / f"d{d}" / f"f{i}.bin").write_bytes(rng.randbytes(size))
        (folder / "deep.txt").write_text(f"deep {d} {rng.random()}")


def damage_one(
    machine: Machine, rng: random.Random, kind: str, truncate: bool
) -> tuple[Path, set[bytes]]:
    """Damage one object of `kind`: the file hit, and the blobs (chunks or trees) it hit."""
    repo = machine.repo()
    index = repo.load_index()
    base = machine.vault / "machines/testbox"
    if kind in ("pack", "tree"):
        want = TREE if kind == "tree" else 0
        packs = [p for p in index.packs.values() if p.entries and p.entries[0].kind == want]
        pack = rng.choice(packs)
        path = machine.vault / repo.layout.pack(pack.pack_id)
        size = path.stat().st_size
        if truncate:
            cut = rng.randrange(1, size)
            os.truncate(path, cut)
            return path, {e.blob_id for e in pack.entries if e.offset + e.length > cut}
        e = rng.choice(pack.entries)
        at = e.offset + rng.randrange(e.length)
        flip_at(path, at, rng)
        return path, {e.blob_id}
    folder = {"segment": "index", "point": "points", "key": "keys"}[kind]
    path = rng.choice(sorted((base / folder).iterdir()))
    size = path.stat().st_size
    if truncate:
        os.truncate(path, rng.randrange(0, size))
    else:
        flip_at(path, rng.randrange(size), rng)
    return path, set()


def flip_at(path: Path, at: int, rng: random.Random) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(data))


def test_50_random_flips_and_truncations_are_found_contained_and_repaired(
    machine: Machine,
) -> None:
    rng = random.Random(1616)
    src = machine.tmp / "src"
    make_source(src, rng)
    points = [backup(machine.repo(), BackupOptions([str(src)], workers=1)).point]
    (src / "d1" / "f0.bin").write_bytes(rng.randbytes(120_000))
    (src / "d2" / "inner" / "deep.txt").write_text("changed")
    points.append(backup(machine.repo(), BackupOptions([str(src)], workers=1)).point)
    machine.check_clean()
    latest = points[-1]
    expected = tree_digest(src)
    prefix = str(src).lstrip("/")
    shape = shape_of(machine.repo(), latest.tree)
    pristine_vault, pristine_home = machine.tmp / "pristine-vault", machine.tmp / "pristine-home"
    shutil.copytree(machine.vault, pristine_vault)
    shutil.copytree(machine.home.path, pristine_home)

    flips = scale("flips", 50)
    detected = 0
    tally: dict[str, int] = {}
    for n in range(flips):
        shutil.rmtree(machine.vault)
        shutil.rmtree(machine.home.path)
        shutil.copytree(pristine_vault, machine.vault)
        shutil.copytree(pristine_home, machine.home.path)
        kind = KINDS[n % len(KINDS)]
        truncate = rng.random() < 0.3
        label = f"{kind}-{'cut' if truncate else 'flip'}"
        tally[label] = tally.get(label, 0) + 1
        path, hit = damage_one(machine, rng, kind, truncate)
        what = f"{kind} {'truncated' if truncate else 'flipped'}: {path.name[:16]}"

        errors = check(machine.repo(), read_data=True).errors
        assert errors, f"not detected: {what}"
        detected += 1
        assert any(path.name[:16] in e for e in errors), (what, errors)

        # Restore: what the damage does not touch comes back bit for bit, the rest is named.
        damaged_point = kind == "point" and path.name == latest.id
        point = points[0] if damaged_point else latest
        target = machine.tmp / "r"
        shutil.rmtree(target, ignore_errors=True)
        reporter = Reporter()
        repo = machine.repo()
        out = restore(
            repo, repo.find_point(point.id), RestoreOptions(target=str(target), workers=1), reporter
        )
        got = tree_digest(target / prefix) if (target / prefix).exists() else {}
        # (A damaged latest point: the first one restores, whose tree is another.)
        want = expected if point is latest else {}
        lost_dirs = {relative(d, prefix) for d, t in shape.dirs.items() if t in hit}
        lost_files = {relative(f, prefix) for f, c in shape.files.items() if hit & set(c)}

        def under_lost(p: str, lost_dirs: set[str] = lost_dirs) -> bool:
            return any(d == "" or p == d or p.startswith(d + "/") for d in lost_dirs)

        for f, entry in want.items():
            if entry[0] != "file":
                continue
            if f in lost_files or under_lost(f):
                assert f not in got or got[f] == entry, (what, f)  # never a wrong file
            else:
                assert got.get(f) == entry, (what, f, reporter.warnings)
        named = {os.path.relpath(d, target / prefix) for d in out.damaged}
        assert {f for f in lost_files if not under_lost(f)} <= named, (what, named)
        if point is latest and (lost_files or lost_dirs):
            assert out.damaged, what

        # repair, then the next backup, bring the lost data back.
        repair(machine.repo(), now=T0)
        again = backup(machine.repo(), BackupOptions([str(src)], workers=1)).point
        shutil.rmtree(target, ignore_errors=True)
        out = restore(machine.repo(), again, RestoreOptions(target=str(target), workers=1))
        assert out.damaged == [] and tree_digest(target / prefix) == expected, what
    record("flips", flips=flips, detected=detected, by_kind=tally)
    assert detected == flips
