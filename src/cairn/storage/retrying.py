"""A `BlobStore` wrapper that retries transient failures, composable around any backend.

Only `TransientStorageError` is retried (a timeout, a reset, 5xx, 429/503: what a backend says may
succeed if tried again). Every other error (`BlobNotFound`, `NoSpace`, a permanent `StorageError`,
a bad name) is raised at once. Between attempts it sleeps with exponential backoff and full jitter
(a random delay between 0 and `min(max_delay, base_delay * 2**n)`), so many clients that failed
together do not retry together. It gives up after `attempts` tries or once the next sleep would
take it past `max_elapsed` seconds, whichever comes first, and then raises a plain `StorageError`
naming the vault, the operation, the attempts and the last cause (not a transient one: a wrapper
around this one must not retry it again).

A transient failure leaves the outcome unknown: the request may have been carried out before the
reply was lost. Each operation is safe to repeat:
  - `put` is idempotent by the `BlobStore` contract (the same bytes under the same name);
  - `get` and `stat` only read;
  - `delete` retried after a transient failure may find the blob gone: the earlier attempt deleted
    it, so `BlobNotFound` on a retry is success (on the first attempt it is raised as ever);
  - `list` yields lazily in backends, and a listing that fails half way cannot be resumed without
    repeating names: the whole listing is collected, and retried from the start, before the first
    name is yielded.

`sleep`, `rng` and `monotonic` are injected so tests take no real time.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from cairn.core.errors import BlobNotFound, StorageError, TransientStorageError
from cairn.storage.blobstore import BlobInfo, BlobStore, put_if_absent

T = TypeVar("T")

DEFAULT_ATTEMPTS = 10
DEFAULT_MAX_ELAPSED_S = 300.0
DEFAULT_BASE_DELAY_S = 0.5
DEFAULT_MAX_DELAY_S = 60.0


class RetryingBlobStore:
    def __init__(
        self,
        inner: BlobStore,
        *,
        attempts: int = DEFAULT_ATTEMPTS,
        max_elapsed: float = DEFAULT_MAX_ELAPSED_S,
        base_delay: float = DEFAULT_BASE_DELAY_S,
        max_delay: float = DEFAULT_MAX_DELAY_S,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        if base_delay < 0 or max_delay < 0 or max_elapsed < 0:
            raise ValueError("delays and max_elapsed must not be negative")
        self.inner = inner
        self.location = inner.location
        self.attempts = attempts
        self.max_elapsed = max_elapsed
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self._monotonic = monotonic

    def __repr__(self) -> str:
        return f"RetryingBlobStore({self.inner!r}, attempts={self.attempts})"

    def delay(self, retry: int) -> float:
        """The sleep before retry number `retry` (1 for the first retry): full jitter."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** min(retry - 1, 62))
        return self._rng.uniform(0.0, ceiling)

    def _call(self, what: str, name: str, op: Callable[[int], T]) -> T:
        """Run `op(attempt)` until it returns, retrying only transient failures."""
        started = self._monotonic()
        attempt = 1
        while True:
            try:
                return op(attempt)
            except TransientStorageError as e:
                elapsed = self._monotonic() - started
                wait = self.delay(attempt) if attempt < self.attempts else 0.0
                if attempt >= self.attempts or elapsed + wait > self.max_elapsed:
                    tries = "1 attempt" if attempt == 1 else f"{attempt} attempts"
                    raise StorageError(
                        f"the vault {self.location}: {what} {name} failed after {tries}"
                        f" over {elapsed:.1f} s; the last error: {e}"
                    ) from e
                self._sleep(wait)
                attempt += 1

    def put(self, name: str, data: bytes | memoryview) -> None:
        self._call("writing", name, lambda _: self.inner.put(name, data))

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        return self._call("reading", name, lambda _: self.inner.get(name, offset, length))

    def stat(self, name: str) -> BlobInfo:
        return self._call("reading", name, lambda _: self.inner.stat(name))

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        listing = self._call("listing", prefix or "/", lambda _: list(self.inner.list(prefix)))
        yield from listing

    def delete(self, name: str) -> None:
        def once(attempt: int) -> None:
            try:
                self.inner.delete(name)
            except BlobNotFound:
                if attempt == 1:
                    raise
                # An earlier attempt failed with an unknown outcome: it did delete the blob.

        self._call("deleting", name, once)

    def put_if_absent(self, name: str, data: bytes | memoryview) -> bool:
        """Create `name` only if it is free. A retry that finds the name taken after an attempt
        with an unknown outcome compares the bytes: if they are ours, that attempt created it."""

        def once(attempt: int) -> bool:
            if put_if_absent(self.inner, name, data):
                return True
            return attempt > 1 and self.inner.get(name) == bytes(data)

        return self._call("creating", name, once)
