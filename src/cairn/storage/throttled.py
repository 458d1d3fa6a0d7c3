"""A `BlobStore` wrapper that holds the bytes sent to and read from a vault to the rate in force
(the machine's throttle setting: docs/throttle.md). Composable around any backend.

What is charged, in bytes:
  - `put`: the data, plus `REQUEST_BYTES` for the request, *before* it is sent;
  - `get` with a length: the length plus `REQUEST_BYTES` before, the unused part given back after
    (a range past the end); `get` of a whole blob: `REQUEST_BYTES` before and the bytes received
    after (their number is known only then);
  - `stat`, `delete`: `REQUEST_BYTES`; `list`: `REQUEST_BYTES`, then a page's worth
    (`LIST_PAGE` names of `LIST_ENTRY_BYTES`) each time a page has been read.
  `REQUEST_BYTES` and `LIST_ENTRY_BYTES` are estimates of the HTTP headers and listing XML.

The token bucket: tokens (bytes) refill at the rate in force, up to `BURST_SECONDS` of it (the
bucket starts full). A charge is split into slices of `SLICE_SECONDS` of the rate (at least
`MIN_SLICE_BYTES`); each slice re-reads the rate (so a rate that changes at the work-hours boundary
applies from the next slice, in the middle of an 8 MiB pack), takes its tokens, going into debt if
there are not enough, and sleeps until the debt is paid at that rate. Slices are served in the order
they were taken, whichever thread or process took them. So an 8 MiB pack at 16Mbps (2 MB/s) waits
about 4 s in 0.1 s steps and is then sent at once; over a backup the average holds to within the
burst, and no charge waits longer than its own bytes and the debt ahead of it take at the rate.

Machine-wide: the bucket's state (tokens, time of the last refill) lives in shared memory
(`multiprocessing.RawArray`) behind a process-shared lock, both made when the wrapper is made. A
backup's worker processes, forked from the process that opened the repository, inherit them, so
the parent's writes (trees, index, locks) and every uploader thread of every worker draw on one
bucket: the rate holds for the machine's job as a whole, not per process. The clock must be one
that all processes share (`time.monotonic` is: CLOCK_MONOTONIC on Linux). A process killed while
holding the lock (a worker terminated mid-charge) cannot hang the others: after `LOCK_TIMEOUT`
seconds a process falls back to a lock of its own over the same shared state.
"""

from __future__ import annotations

import math
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator, MutableSequence
from contextlib import contextmanager
from typing import Final, Protocol

from cairn.storage.blobstore import BlobInfo, BlobStore

BURST_SECONDS: Final = 0.5
SLICE_SECONDS: Final = 0.1
MIN_SLICE_BYTES: Final = 16 * 1024
REQUEST_BYTES: Final = 512
LIST_PAGE: Final = 1000
LIST_ENTRY_BYTES: Final = 256
LOCK_TIMEOUT: Final = 5.0

Rate = Callable[[], float | None]
"""The rate in force now, in bytes per second; None for no limit."""


class _Lock(Protocol):
    def acquire(self, block: bool, timeout: float) -> bool: ...

    def release(self) -> None: ...


class TokenBucket:
    """A token bucket shared by threads and (made before a fork) by processes. See the module doc."""

    def __init__(
        self,
        rate: Rate,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        burst_seconds: float = BURST_SECONDS,
        slice_seconds: float = SLICE_SECONDS,
        shared: bool = True,
    ) -> None:
        self._rate = rate
        self._clock = clock
        self._sleep = sleep
        self._burst = burst_seconds
        self._slice = slice_seconds
        start = [math.inf, clock()]  # full: the first refill caps it at the burst
        self._state: MutableSequence[float] = start
        self._lock: _Lock = threading.Lock()
        if shared:
            try:
                # The workers' start method (engine/workers.py): with fork, nothing needs a
                # resource tracker; with spawn, these go to the children with the store.
                methods = multiprocessing.get_all_start_methods()
                ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
                self._state = ctx.RawArray("d", start)
                self._lock = ctx.Lock()
            except (OSError, ImportError):  # no shared memory here: one process's bucket
                pass

    def rate(self) -> float | None:
        return self._rate()

    def charge(self, nbytes: int) -> None:
        """Take `nbytes` from the bucket, in slices, sleeping while it is in debt."""
        while nbytes > 0:
            rate = self._rate()
            if rate is None or rate <= 0:
                return
            piece = min(nbytes, max(MIN_SLICE_BYTES, int(rate * self._slice)))
            wait = self._take(piece, rate)
            if wait > 0:
                self._sleep(wait)
            nbytes -= piece

    def refund(self, nbytes: int) -> None:
        """Give back bytes charged but not sent (the next refill caps the bucket again)."""
        if nbytes > 0:
            with self._locked():
                self._state[0] += nbytes

    def _take(self, piece: int, rate: float) -> float:
        """Refill at `rate`, take `piece`; the seconds until the bucket is out of debt."""
        with self._locked():
            now = self._clock()
            tokens, last = self._state[0], self._state[1]
            elapsed = max(0.0, now - last)
            tokens = min(rate * self._burst, tokens + elapsed * rate) - piece
            self._state[0] = tokens
            self._state[1] = max(now, last)
        return -tokens / rate if tokens < 0 else 0.0

    @contextmanager
    def _locked(self) -> Iterator[None]:
        lock = self._lock
        if not lock.acquire(True, LOCK_TIMEOUT):
            # Its holder died inside the few instructions above (a terminated worker): go on with
            # a lock of this process's own rather than hang.
            lock = self._lock = threading.Lock()
            lock.acquire(True, -1)
        try:
            yield
        finally:
            lock.release()


class ThrottledBlobStore:
    """`inner`, with every byte sent or read charged to a `TokenBucket` at `rate_at()`."""

    def __init__(
        self,
        inner: BlobStore,
        rate_at: Rate,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        shared: bool = True,
    ) -> None:
        self.inner = inner
        self.location = inner.location
        self.bucket = TokenBucket(rate_at, clock=clock, sleep=sleep, shared=shared)

    def limit_bps(self) -> int | None:
        """The limit in force now, in bits per second; None for none."""
        rate = self.bucket.rate()
        return None if rate is None else round(rate * 8)

    def put(self, name: str, data: bytes | memoryview) -> None:
        self.bucket.charge(memoryview(data).nbytes + REQUEST_BYTES)
        self.inner.put(name, data)

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        if length is None:
            self.bucket.charge(REQUEST_BYTES)
            data = self.inner.get(name, offset, length)
            self.bucket.charge(len(data))
            return data
        self.bucket.charge(REQUEST_BYTES + length)
        try:
            data = self.inner.get(name, offset, length)
        except BaseException:
            self.bucket.refund(length)
            raise
        self.bucket.refund(length - len(data))
        return data

    def stat(self, name: str) -> BlobInfo:
        self.bucket.charge(REQUEST_BYTES)
        return self.inner.stat(name)

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        self.bucket.charge(REQUEST_BYTES)
        for n, info in enumerate(self.inner.list(prefix), 1):
            if n % LIST_PAGE == 0:
                self.bucket.charge(REQUEST_BYTES + LIST_PAGE * LIST_ENTRY_BYTES)
            yield info

    def delete(self, name: str) -> None:
        self.bucket.charge(REQUEST_BYTES)
        self.inner.delete(name)


def current_limit_bps(store: object) -> int | None:
    """The limit a store is throttled to now (bits per second), looking through wrappers that
    keep what they wrap in `inner`; None if it is not throttled."""
    for _ in range(8):
        if isinstance(store, ThrottledBlobStore):
            return store.limit_bps()
        store = getattr(store, "inner", None)
        if store is None:
            return None
    return None
