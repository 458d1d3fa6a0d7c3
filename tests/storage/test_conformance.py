"""The one conformance suite every BlobStore backend must pass."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.core.errors import BlobNotFound, StorageError
from cairn.storage.blobstore import BlobStore
from cairn.storage.local import LocalBlobStore
from cairn.storage.memory import MemoryBlobStore
from cairn.storage.throttled import ThrottledBlobStore


@pytest.fixture(params=["memory", "local", "throttled"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "memory":
        yield MemoryBlobStore()
    elif request.param == "local":
        yield LocalBlobStore(str(tmp_path / "vault"))
    else:  # the wrapper keeps the contract of what it wraps (1023Mbps: no test waits on it)
        yield ThrottledBlobStore(LocalBlobStore(str(tmp_path / "vault")), lambda: 127_875_000.0)


def test_put_then_get_returns_the_bytes(store: BlobStore) -> None:
    store.put("packs/ab/abcdef", b"hello world")
    assert store.get("packs/ab/abcdef") == b"hello world"
    assert store.stat("packs/ab/abcdef").size == 11


def test_get_a_range(store: BlobStore) -> None:
    store.put("x", bytes(range(100)))
    assert store.get("x", 10, 5) == bytes(range(10, 15))
    assert store.get("x", 95) == bytes(range(95, 100))
    assert store.get("x", 98, 10) == bytes([98, 99])


def test_put_replaces(store: BlobStore) -> None:
    store.put("a/b", b"one")
    store.put("a/b", b"two!")
    assert store.get("a/b") == b"two!"


def test_empty_blob(store: BlobStore) -> None:
    store.put("empty", b"")
    assert store.get("empty") == b""
    assert store.stat("empty").size == 0


def test_missing_blob_raises_not_found(store: BlobStore) -> None:
    with pytest.raises(BlobNotFound):
        store.get("nope")
    with pytest.raises(BlobNotFound):
        store.stat("nope")
    with pytest.raises(BlobNotFound):
        store.delete("nope")


def test_list_by_prefix(store: BlobStore) -> None:
    for name in ["packs/00/a1", "packs/ff/b2", "index/c3", "points/d4", "packsx"]:
        store.put(name, name.encode())
    assert sorted(b.name for b in store.list("packs/")) == ["packs/00/a1", "packs/ff/b2"]
    assert sorted(b.name for b in store.list("packs")) == ["packs/00/a1", "packs/ff/b2", "packsx"]
    assert sorted(b.name for b in store.list("")) == sorted(
        ["packs/00/a1", "packs/ff/b2", "index/c3", "points/d4", "packsx"]
    )
    sizes = {b.name: b.size for b in store.list("index/")}
    assert sizes == {"index/c3": len(b"index/c3")}
    assert list(store.list("nothing/")) == []


def test_delete_removes(store: BlobStore) -> None:
    store.put("locks/l1", b"x")
    store.delete("locks/l1")
    assert list(store.list("locks/")) == []
    with pytest.raises(BlobNotFound):
        store.get("locks/l1")


@pytest.mark.parametrize(
    "bad", ["", "/abs", "a//b", "../x", "a/../b", "UPPER", "sp ace", "a/./b", "é"]
)
def test_bad_names_are_refused(store: BlobStore, bad: str) -> None:
    with pytest.raises(StorageError):
        store.put(bad, b"x")


def test_large_blob_round_trip(store: BlobStore) -> None:
    data = bytes(range(256)) * (64 * 1024 + 3)
    store.put("big", data)
    assert store.get("big") == data
    assert store.get("big", 1 << 20, 100) == data[1 << 20 : (1 << 20) + 100]


def test_concurrent_puts_of_one_name_leave_a_whole_blob(store: BlobStore) -> None:
    values = [bytes([i]) * 100_000 for i in range(8)]
    threads = [threading.Thread(target=store.put, args=("race", v)) for v in values]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get("race") in values


def test_memoryview_input(store: BlobStore) -> None:
    store.put("mv", memoryview(b"abcdef")[2:])
    assert store.get("mv") == b"cdef"
