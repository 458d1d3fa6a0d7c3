"""The frozen vault of format v1 (tests/fixtures/vault-v1, made once by make_vault_v1.py) must stay
readable: it unlocks, checks clean with every byte read, and restores both recovery points to the
bytes recorded in tests/fixtures/vault-v1.json. The fixture is never regenerated; a test run reads a
copy of it, so nothing here can change it."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cairn.codec.chunker import Chunker
from cairn.core.clock import FixedClock
from cairn.core.errors import WrongPassphrase
from cairn.engine.check import check
from cairn.engine.restore import RestoreOptions, restore
from cairn.storage.local import LocalBlobStore
from cairn.vault.layout import MachineLayout
from cairn.vault.repository import Repository
from cairn.vault.tree import Node
from cairn.vault.vault import Vault

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
FROZEN = FIXTURES / "vault-v1"
MANIFEST: dict[str, Any] = json.loads((FIXTURES / "vault-v1.json").read_text())
POINT_IDS = sorted(MANIFEST["points"], key=lambda p: MANIFEST["points"][p]["time"])
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def fixture_digest() -> dict[str, str]:
    out = {}
    for top, _, files in os.walk(FROZEN):
        for name in files:
            path = os.path.join(top, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, FROZEN)] = hashlib.sha256(f.read()).hexdigest()
    return out


@pytest.fixture(scope="module")
def frozen_copy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    before = fixture_digest()
    copy = tmp_path_factory.mktemp("frozen") / "vault-v1"
    shutil.copytree(FROZEN, copy)
    yield copy
    assert fixture_digest() == before, "the frozen fixture changed"


@pytest.fixture(scope="module")
def repo(frozen_copy: Path) -> Repository:
    vault = Vault(LocalBlobStore(str(frozen_copy)), FixedClock(NOW))
    info = vault.info()
    assert info.vault_id == MANIFEST["vault_id"]
    assert info.version == 1
    key = vault.unlock(MANIFEST["machine"], MANIFEST["passphrase"])
    return vault.open(MANIFEST["machine"], key)


def test_the_fixture_is_as_recorded() -> None:
    layout = MachineLayout(MANIFEST["machine"])
    points = sorted(p.name for p in (FROZEN / layout.root / "points").iterdir())
    assert points == sorted(MANIFEST["points"])
    locks = FROZEN / layout.root / "locks"
    assert not locks.exists() or not any(locks.iterdir())
    assert json.loads((FROZEN / "vault.json").read_text())["version"] == 1
    assert json.loads((FROZEN / layout.config).read_text())["version"] == 1
    assert len(POINT_IDS) == 2
    assert MANIFEST["source_root"] == "/tmp/cairn-fixture-src"


def test_a_wrong_passphrase_does_not_open_it(frozen_copy: Path) -> None:
    vault = Vault(LocalBlobStore(str(frozen_copy)), FixedClock(NOW))
    with pytest.raises(WrongPassphrase):
        vault.unlock(MANIFEST["machine"], "cairn-fixture-passphrase-v2")


def test_check_reading_all_data_finds_no_error(repo: Repository) -> None:
    result = check(repo, read_data=True)
    assert result.errors == []
    assert result.points == 2
    assert result.packs == result.packs_read == len(repo.list_packs()) > 0
    assert result.unindexed_packs == 0
    assert result.blobs_read > 0


def test_the_points_are_as_recorded(repo: Repository) -> None:
    first, second = (repo.load_point(p) for p in POINT_IDS)
    assert [p.id for p in repo.list_points()] == POINT_IDS
    assert repo.find_point("latest").id == second.id
    assert second.parent == first.id
    for p in (first, second):
        recorded = MANIFEST["points"][p.id]
        assert p.time.isoformat() == recorded["time"]
        assert p.machine == MANIFEST["machine"]
        assert p.paths == [MANIFEST["source_root"]]
        assert p.status == "completed"
    assert second.stats.files_changed == 1


def source_tree(repo: Repository, point_id: str) -> list[Node]:
    index = repo.load_index()
    nodes = repo.load_tree(index, repo.load_point(point_id).tree)
    for part in MANIFEST["source_root"].strip("/").split("/"):
        (match,) = [n for n in nodes if n.name == part.encode()]
        assert match.subtree is not None
        nodes = repo.load_tree(index, match.subtree)
    return nodes


def test_the_big_file_has_more_than_one_chunk(repo: Repository) -> None:
    big = MANIFEST["big_file"]
    folder, name = big["path"].split("/")
    for point_id in POINT_IDS:
        index = repo.load_index()
        (data_dir,) = [n for n in source_tree(repo, point_id) if n.name == folder.encode()]
        assert data_dir.subtree is not None
        (node,) = [n for n in repo.load_tree(index, data_dir.subtree) if n.name == name.encode()]
        assert len(node.content) >= 2
        assert node.size == big["bytes"]
        data = b"".join(repo.read_blob(index, c) for c in node.content)
        assert len(data) == big["bytes"]
        # The same bytes backed up today must cut and hash to the same chunk ids, or every old
        # vault would stop deduplicating: the chunker and the id hash are part of the format.
        cfg = repo.config
        chunker = Chunker(repo.key.chunker_key, cfg.chunk_avg, cfg.chunk_min, cfg.chunk_max)
        ids = [repo.hasher.id_of(data[o : o + n]) for o, n in chunker.cut(data)]
        assert ids == node.content
        streamed = [repo.hasher.id_of(c) for c in chunker.chunks(io.BytesIO(data), len(data))]
        assert streamed == node.content


def test_the_changed_file_shares_no_chunk_and_the_others_share_all(repo: Repository) -> None:
    first, second = ({n.name: n for n in source_tree(repo, p)} for p in POINT_IDS)
    assert first.keys() == second.keys()
    changed = MANIFEST["changed_in_second_point"].split("/")[0].encode()
    for name in first:
        if name == changed:
            assert first[name].subtree != second[name].subtree
        else:
            assert first[name] == second[name], name


def walk_restored(root: Path) -> dict[str, Any]:
    files: dict[str, dict[str, Any]] = {}
    symlinks: dict[str, str] = {}
    dirs: list[str] = []
    base = os.fsencode(root)
    for top, dirnames, filenames in os.walk(base):
        for name in dirnames + filenames:
            path = os.path.join(top, name)
            key = os.fsdecode(os.path.relpath(path, base))
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                symlinks[key] = os.fsdecode(os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                dirs.append(key)
            else:
                with open(path, "rb") as f:
                    data = f.read()
                files[key] = {
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "size": len(data),
                    "mtime_ns": st.st_mtime_ns,
                }
    return {"files": files, "symlinks": symlinks, "dirs": sorted(dirs)}


@pytest.mark.parametrize("which", [0, 1], ids=["first-point", "second-point"])
def test_restore_gives_back_every_file(repo: Repository, tmp_path: Path, which: int) -> None:
    point_id = POINT_IDS[which]
    point = repo.find_point(point_id[:12])
    target = tmp_path / "restored"
    result = restore(repo, point, RestoreOptions(target=str(target)))
    assert result.damaged == []
    recorded = MANIFEST["points"][point_id]
    restored = walk_restored(target / MANIFEST["source_root"].lstrip("/"))
    assert restored["files"] == recorded["files"]
    assert restored["symlinks"] == recorded["symlinks"]
    assert restored["dirs"] == recorded["dirs"]
    assert result.files == len(recorded["files"])


def test_the_two_points_differ_only_in_the_changed_file() -> None:
    first, second = (MANIFEST["points"][p]["files"] for p in POINT_IDS)
    changed = MANIFEST["changed_in_second_point"]
    assert first.keys() == second.keys()
    assert first[changed]["sha256"] != second[changed]["sha256"]
    assert {k: v for k, v in first.items() if k != changed} == {
        k: v for k, v in second.items() if k != changed
    }
    assert any(os.fsencode(k) != k.encode("utf-8", "replace") for k in first), "a non-UTF-8 name"
