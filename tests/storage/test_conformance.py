"""The one conformance suite every BlobStore backend must pass."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.core.errors import BlobNotFound, StorageError
from cairn.storage.azure import AzureBlobStore
from cairn.storage.blobstore import BlobStore, put_if_absent
from cairn.storage.local import LocalBlobStore
from cairn.storage.memory import MemoryBlobStore
from cairn.storage.retrying import RetryingBlobStore
from cairn.storage.s3 import S3BlobStore
from cairn.storage.throttled import ThrottledBlobStore
from tests.storage import services

SMALL = 1 << 20  # cloud stores built here split blobs above 1 MiB (Azure) / 5 MiB (S3) into blocks


@pytest.fixture(params=["memory", "local", "retrying-local", "throttled", "azure", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    """Each test gets an empty store: a new folder, or a new container / bucket with a prefix."""
    if request.param == "memory":
        yield MemoryBlobStore()
    elif request.param == "retrying-local":
        yield RetryingBlobStore(LocalBlobStore(str(tmp_path / "vault")), sleep=lambda s: None)
    elif request.param == "throttled":  # keeps the contract (1023Mbps: no test waits on it)
        yield ThrottledBlobStore(LocalBlobStore(str(tmp_path / "vault")), lambda: 127_875_000.0)
    elif request.param == "local":
        yield LocalBlobStore(str(tmp_path / "vault"))
    elif request.param == "azure":
        yield AzureBlobStore(
            services.location("azure", "conf", "some/prefix"),
            services.azure_credentials(),
            single_put_bytes=SMALL,
            block_bytes=SMALL,
        )
    else:
        yield S3BlobStore(
            services.location("s3", "conf", "some/prefix"),
            services.s3_credentials(),
            multipart_bytes=5 << 20,
            part_bytes=5 << 20,
        )


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


def test_put_if_absent_creates_once(store: BlobStore) -> None:
    assert put_if_absent(store, "vault.json", b"first")
    assert not put_if_absent(store, "vault.json", b"second")
    assert store.get("vault.json") == b"first"


def test_a_blob_in_blocks_is_whole_and_ranges_cross_blocks(store: BlobStore) -> None:
    data = os.urandom((11 << 20) + 12345)  # above every backend's block / part size here
    store.put("packs/00/big", data)
    assert store.stat("packs/00/big").size == len(data)
    assert store.get("packs/00/big") == data
    edge = 5 << 20
    assert store.get("packs/00/big", edge - 10, 20) == data[edge - 10 : edge + 10]
    assert store.get("packs/00/big", len(data)) == b""


def test_only_the_store_s_own_prefix_is_listed(store: BlobStore) -> None:
    store.put("a", b"1")
    assert [b.name for b in store.list("")] == ["a"]
