"""The fault-injecting wrapper (for tests): failures before and after the operation."""

from __future__ import annotations

import pytest

from cairn.core.errors import TransientStorageError
from cairn.storage.faulty import FaultyBlobStore
from cairn.storage.memory import MemoryBlobStore


def test_rate_zero_never_fails_and_rate_one_always_does() -> None:
    inner = MemoryBlobStore()
    calm = FaultyBlobStore(inner, rate=0.0, seed=1)
    for i in range(200):
        calm.put(f"a/{i}", b"x")
    assert len(list(calm.list("a/"))) == 200
    broken = FaultyBlobStore(inner, rate=1.0, seed=1)
    for i in range(50):
        with pytest.raises(TransientStorageError, match="injected fault"):
            broken.get(f"a/{i}")


def test_a_failure_after_a_put_leaves_the_blob_stored() -> None:
    inner = MemoryBlobStore()
    store = FaultyBlobStore(inner, rate=0.5, seed=3)
    failed = set()
    for i in range(400):
        try:
            store.put(f"p/{i}", b"data")
        except TransientStorageError:
            failed.add(f"p/{i}")
    stored = {b.name for b in inner.list("p/")}
    before, after = store.faults["before"], store.faults["after"]
    assert before > 50 and after > 50
    assert len(failed) == before + after
    # Every put that failed "after" landed; every one that failed "before" did not.
    assert len(stored) == 400 - before
    assert len(failed & stored) == after


def test_a_failure_after_a_delete_has_deleted() -> None:
    inner = MemoryBlobStore()
    for i in range(200):
        inner.put(f"d/{i}", b"x")
    store = FaultyBlobStore(inner, rate=0.5, seed=5)
    for i in range(200):
        try:
            store.delete(f"d/{i}")
        except TransientStorageError:
            pass
    assert len(list(inner.list("d/"))) == store.faults["before"]


def test_a_listing_can_fail_half_way() -> None:
    inner = MemoryBlobStore()
    for i in range(10):
        inner.put(f"l/{i}", b"x")
    store = FaultyBlobStore(inner, rate=1.0, seed=0)
    seen_partial = False
    for _ in range(20):
        got = []
        with pytest.raises(TransientStorageError):
            for b in store.list("l/"):
                got.append(b.name)
        seen_partial = seen_partial or len(got) == 5
    assert seen_partial
    assert store.faults["after"] > 0 and store.faults["before"] > 0


def test_the_same_seed_fails_the_same_operations() -> None:
    def run() -> list[int]:
        store = FaultyBlobStore(MemoryBlobStore(), rate=0.2, seed="repeatable")
        out = []
        for i in range(100):
            try:
                store.put(f"x/{i}", b"")
            except TransientStorageError:
                out.append(i)
        return out

    assert run() == run()
    assert run()
