"""The throttled wrapper: a token bucket on a fake clock, then real time across threads and
processes."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

import pytest

from cairn.core.errors import BlobNotFound
from cairn.storage import throttled
from cairn.storage.local import LocalBlobStore
from cairn.storage.memory import MemoryBlobStore
from cairn.storage.throttled import (
    BURST_SECONDS,
    REQUEST_BYTES,
    ThrottledBlobStore,
    TokenBucket,
    current_limit_bps,
)

MB = 1_000_000


class FakeTime:
    """A clock that only moves when someone sleeps; records the sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def fake_store(rate: float | None, t: FakeTime) -> ThrottledBlobStore:
    return ThrottledBlobStore(
        MemoryBlobStore(), lambda: rate, clock=t.clock, sleep=t.sleep, shared=False
    )


def test_the_average_rate_holds_over_many_puts() -> None:
    t = FakeTime()
    store = fake_store(1 * MB, t)
    start = t.now
    for i in range(100):
        store.put(f"p{i}", bytes(100_000))
    sent = 100 * (100_000 + REQUEST_BYTES)
    elapsed = t.now - start
    # The bucket starts full (half a second of rate); everything else waits for its tokens.
    assert elapsed == pytest.approx((sent - BURST_SECONDS * MB) / MB, rel=0.01)
    assert sent / elapsed == pytest.approx(1 * MB, rel=0.06)


def test_an_8_mib_pack_is_charged_in_slices_before_it_is_sent() -> None:
    t = FakeTime()
    inner = MemoryBlobStore()
    seen: list[float] = []

    class Watch:
        location = "memory://"

        def put(self, name: str, data: bytes | memoryview) -> None:
            seen.append(t.now)  # when the bytes leave
            inner.put(name, data)

    store = ThrottledBlobStore(
        Watch(),  # type: ignore[arg-type]
        lambda: 2 * MB,
        clock=t.clock,
        sleep=t.sleep,
        shared=False,
    )
    start = t.now
    store.put("pack", bytes(8 << 20))
    # Sent after its tokens were paid, not at once with a long sleep after.
    assert seen == [t.now]
    assert t.now - start == pytest.approx(((8 << 20) + REQUEST_BYTES - MB) / (2 * MB), rel=0.01)
    assert len(t.sleeps) > 30 and max(t.sleeps) <= 0.11  # 0.1 s slices


def test_the_rate_switches_at_the_boundary_in_the_middle_of_a_transfer() -> None:
    t = FakeTime()
    boundary = t.now + 5.0

    def rate() -> float:
        return 1 * MB if t.now < boundary else 4 * MB  # work hours end at `boundary`

    store = ThrottledBlobStore(MemoryBlobStore(), rate, clock=t.clock, sleep=t.sleep, shared=False)
    start = t.now
    store.put("big", bytes(20 * MB))
    # 0.5 MB burst + 5 s at 1 MB/s = 5.5 MB by the boundary; the other 14.5 MB at 4 MB/s.
    expected = 5.0 + (20 * MB + REQUEST_BYTES - 5.5 * MB) / (4 * MB)
    assert t.now - start == pytest.approx(expected, abs=0.11)
    # Had the rate been read once at the start, it would have taken 19.5 s.
    assert t.now - start < 9


def test_no_limit_means_no_wait() -> None:
    t = FakeTime()
    store = fake_store(None, t)
    for i in range(10):
        store.put(f"p{i}", bytes(MB))
        store.get(f"p{i}")
    assert t.sleeps == []
    assert store.limit_bps() is None


def test_gets_are_charged_and_a_short_range_gives_back_what_it_did_not_read() -> None:
    t = FakeTime()
    store = fake_store(1 * MB, t)
    store.inner.put("blob", bytes(MB // 10))
    store.bucket.charge(int(BURST_SECONDS * MB))  # empty the bucket
    t.sleeps.clear()
    before = t.now
    assert len(store.get("blob")) == MB // 10  # the whole blob: charged when it has arrived
    assert t.now - before == pytest.approx((MB // 10 + REQUEST_BYTES) / MB, rel=0.01)
    before = t.now
    assert len(store.get("blob", MB // 20, 2 * MB)) == MB // 20  # a range past the end
    # 2 MB were charged up front (2 s); the 1.95 MB not read are given back for the next charges.
    assert t.now - before == pytest.approx(2.0, rel=0.01)
    before = t.now
    store.put("next", bytes(400_000))
    assert t.now - before == 0  # paid by what came back (up to the burst)
    with pytest.raises(BlobNotFound):
        store.get("missing", 0, 10)


def test_list_stat_and_delete_cost_a_request_each_and_listing_a_page() -> None:
    t = FakeTime()
    store = fake_store(64_000, t)  # 512Kbps
    for i in range(2500):
        store.inner.put(f"x/{i:05d}", b"")
    store.bucket.charge(32_000)
    t.sleeps.clear()
    before = t.now
    assert len(list(store.list("x/"))) == 2500
    pages = 2 * (REQUEST_BYTES + throttled.LIST_PAGE * throttled.LIST_ENTRY_BYTES)
    assert t.now - before == pytest.approx((REQUEST_BYTES + pages) / 64_000, rel=0.01)
    before = t.now
    store.stat("x/00001")
    store.delete("x/00001")
    assert t.now - before == pytest.approx(2 * REQUEST_BYTES / 64_000, rel=0.01)


def test_the_limit_shows_through_other_wrappers() -> None:
    store = fake_store(500_000, FakeTime())

    class Retrying:
        def __init__(self, inner: object) -> None:
            self.inner = inner

    assert current_limit_bps(store) == 4_000_000
    assert current_limit_bps(Retrying(store)) == 4_000_000
    assert current_limit_bps(MemoryBlobStore()) is None


def test_a_lock_left_held_by_a_dead_process_does_not_hang_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(throttled, "LOCK_TIMEOUT", 0.05)
    t = FakeTime()
    bucket = TokenBucket(lambda: 1 * MB, clock=t.clock, sleep=t.sleep, shared=True)
    bucket._lock.acquire(True, 1)  # as if a terminated worker had held it
    bucket.charge(2 * MB)
    assert t.now - 1000.0 == pytest.approx(1.5, rel=0.01)


# --- real time ---------------------------------------------------------------------------------------


def test_threads_share_one_bucket(tmp_path: Path) -> None:
    rate = 4 * MB
    store = ThrottledBlobStore(LocalBlobStore(str(tmp_path)), lambda: float(rate))

    def upload(n: int) -> None:
        for i in range(8):
            store.put(f"t{n}/{i}", bytes(250_000))

    threads = [threading.Thread(target=upload, args=(n,)) for n in range(4)]
    start = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.monotonic() - start
    sent = 32 * (250_000 + REQUEST_BYTES)
    floor = (sent - BURST_SECONDS * rate) / rate  # 1.5 s: four private buckets would take 0.1 s
    assert floor * 0.98 <= elapsed <= floor * 1.5


def _child(store: ThrottledBlobStore, n: int) -> None:
    for i in range(8):
        store.put(f"p{n}/{i}", bytes(250_000))


def test_forked_processes_share_one_bucket(tmp_path: Path) -> None:
    rate = 4 * MB
    store = ThrottledBlobStore(LocalBlobStore(str(tmp_path)), lambda: float(rate))
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_child, args=(store, n)) for n in range(2)]
    start = time.monotonic()
    for p in procs:
        p.start()
    _child(store, 2)  # the parent writes too
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    elapsed = time.monotonic() - start
    sent = 24 * (250_000 + REQUEST_BYTES)
    floor = (sent - BURST_SECONDS * rate) / rate  # 1 s; a bucket per process: 0.0 s
    assert floor * 0.98 <= elapsed <= floor * 1.6


def test_512kbps_really_takes_as_long_as_it_should(tmp_path: Path) -> None:
    store = ThrottledBlobStore(LocalBlobStore(str(tmp_path)), lambda: 64_000.0)
    start = time.monotonic()
    for i in range(6):
        store.put(f"b{i}", bytes(16_000))
    elapsed = time.monotonic() - start
    sent = 6 * (16_000 + REQUEST_BYTES)
    expected = (sent - BURST_SECONDS * 64_000) / 64_000  # ~1.05 s
    assert expected * 0.98 <= elapsed <= expected * 1.3


def test_a_small_request_does_not_wait_behind_a_whole_pack(tmp_path: Path) -> None:
    store = ThrottledBlobStore(LocalBlobStore(str(tmp_path)), lambda: float(MB))
    store.inner.put("lock", b"x")
    big = threading.Thread(target=store.put, args=("pack", bytes(3 * MB)))  # 2.5 s at 1 MB/s
    big.start()
    time.sleep(0.5)
    start = time.monotonic()
    store.stat("lock")  # a lock refresh, say: behind one 0.1 s slice, not the 2 s left
    waited = time.monotonic() - start
    big.join()
    assert waited < 0.6
