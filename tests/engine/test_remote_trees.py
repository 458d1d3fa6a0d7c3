"""Over a network, a restore's plan reads each tree pack once, not one request per folder."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from cairn.core.clock import SystemClock
from cairn.engine.backup import BackupOptions, backup
from cairn.engine.listing import list_point
from cairn.storage.blobstore import BlobInfo
from cairn.storage.local import LocalBlobStore
from cairn.vault.repository import Repository
from tests.conftest import Machine


class Counting:
    """A local folder that says it is remote, and counts the reads of each blob."""

    def __init__(self, inner: LocalBlobStore, location: str) -> None:
        self.inner = inner
        self.location = location
        self.gets: Counter[str] = Counter()

    def put(self, name: str, data: bytes | memoryview) -> None:
        self.inner.put(name, data)

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        self.gets[name] += 1
        return self.inner.get(name, offset, length)

    def stat(self, name: str) -> BlobInfo:
        return self.inner.stat(name)

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        return self.inner.list(prefix)

    def delete(self, name: str) -> None:
        self.inner.delete(name)


def tree_reads(machine: Machine, location: str) -> tuple[int, int]:
    """(reads of packs, paths listed) for a full listing of the latest point."""
    base = machine.repo()
    store = Counting(LocalBlobStore(str(machine.vault)), location)
    repo = Repository(store, base.machine, base.key, base.config, SystemClock())  # type: ignore[arg-type]
    point = repo.find_point("latest")
    listed = len(list(list_point(repo, point, "/")))
    return sum(n for name, n in store.gets.items() if "/packs/" in name), listed


def test_tree_packs_are_read_whole_on_remote_vaults(machine: Machine, tmp_path: Path) -> None:
    src = tmp_path / "src"
    for i in range(40):
        d = src / f"d{i:02d}" / "inner"
        d.mkdir(parents=True)
        (d / "f.txt").write_text(f"file {i}\n")
    backup(machine.repo(), BackupOptions([str(src)]))
    remote_reads, listed = tree_reads(machine, "s3://bucket/vault")
    local_reads, listed_locally = tree_reads(machine, str(machine.vault))
    assert listed == listed_locally > 40 * 3  # every folder and file, the same either way
    assert local_reads >= 80  # a ranged read per folder's tree
    assert remote_reads <= 2  # the tree pack (or two), each read once
    machine.check_clean()
