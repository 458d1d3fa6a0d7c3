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


def test_lost_writes_are_acknowledged_and_not_stored() -> None:
    inner = MemoryBlobStore()
    store = FaultyBlobStore(inner, rate=0.0, seed=7, lost_writes=0.2)
    for i in range(500):
        store.put(f"w/{i}", b"x")  # never raises
    lost = store.faults["lost"]
    assert 50 < lost < 150
    assert len(list(inner.list("w/"))) == 500 - lost


def test_timeouts_fail_transiently_and_half_of_them_took_effect() -> None:
    inner = MemoryBlobStore()
    store = FaultyBlobStore(inner, rate=0.0, seed=9, timeouts=0.5)
    failed = 0
    for i in range(400):
        try:
            store.put(f"t/{i}", b"x")
        except TransientStorageError as e:
            assert "timed out" in str(e)
            failed += 1
    assert store.faults["timeout"] == failed and 150 < failed < 250
    stored = len(list(inner.list("t/")))
    assert 400 - failed < stored < 400  # some of the timed-out puts landed


def test_a_listing_drops_only_recent_blobs() -> None:
    inner = MemoryBlobStore()
    for i in range(100):
        inner.put(f"old/{i}", b"x")  # not put through the wrapper: not recent to it
    store = FaultyBlobStore(inner, rate=0.0, seed=11, listing_drops=0.5, recent_seconds=60)
    for i in range(100):
        store.put(f"new/{i}", b"x")
    assert len(list(store.list("old/"))) == 100
    shown = len(list(store.list("new/")))
    assert 25 < shown < 75
    assert all(store.stat(f"new/{i}").size == 1 for i in range(100))  # reads by name see all
    store.recent_seconds = 0  # once the window has passed, the listing is whole
    assert len(list(store.list("new/"))) == 100
