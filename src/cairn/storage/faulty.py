"""A `BlobStore` wrapper that fails on purpose. For tests only: nothing outside tests uses it.

`FaultyBlobStore(inner, rate, seed)` fails about `rate` of the operations with
`TransientStorageError`, chosen by a random generator seeded with `seed` (so a failing run can be
repeated). Half of the failures come BEFORE the operation (nothing happened) and half AFTER it:
the operation was carried out on `inner` but the caller sees an error, which is what a lost reply
looks like on a network (a put that landed, a delete that deleted). A listing that fails AFTER
yields part of the names first, then fails half way.

Further misbehaviour, each off by default (keyword arguments):
  - `timeouts`: a share of operations that time out: they wait `timeout_seconds`, then raise
    `TransientStorageError` ("timed out"), half of them having taken effect;
  - `lost_writes`: a share of puts acknowledged but not stored (the call returns, nothing lands),
    as a storage that loses an acknowledged write does;
  - `listing_drops`: eventual consistency: each listing leaves out this share of the blobs written
    in the last `recent_seconds` (by mtime for a folder backend, else those this wrapper put).
    `get`, `stat` and `delete` stay consistent (read-after-write, as S3 and Azure give).

`faults` counts the failures injected, by kind ("before", "after", "timeout", "lost", "dropped"),
in this process (a worker process forked with the store counts its own).
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TypeVar

from cairn.core.errors import TransientStorageError
from cairn.storage.blobstore import BlobInfo, BlobStore

T = TypeVar("T")


class FaultyBlobStore:
    def __init__(
        self,
        inner: BlobStore,
        rate: float,
        seed: int | str = 0,
        *,
        timeouts: float = 0.0,
        timeout_seconds: float = 0.0,
        lost_writes: float = 0.0,
        listing_drops: float = 0.0,
        recent_seconds: float = 60.0,
    ) -> None:
        for share in (rate, timeouts, lost_writes, listing_drops):
            if not 0.0 <= share <= 1.0:
                raise ValueError("rates are shares of operations, between 0 and 1")
        self.inner = inner
        self.location = inner.location
        self.rate = rate
        self.timeouts = timeouts
        self.timeout_seconds = timeout_seconds
        self.lost_writes = lost_writes
        self.listing_drops = listing_drops
        self.recent_seconds = recent_seconds
        self.enabled = True
        self.faults: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._put_at: dict[str, float] = {}

    def __repr__(self) -> str:
        return f"FaultyBlobStore({self.inner!r}, rate={self.rate})"

    def _fault(self) -> str | None:
        """None (no fault), "before" or "after" (or "timeout-before" / "timeout-after" when
        timeouts are on); one draw of the generator for each kind either way."""
        draw = self._rng.random()
        slow = self._rng.random() if self.timeouts else 1.0
        if not self.enabled:
            return None
        if draw < self.rate:
            return "before" if draw < self.rate / 2 else "after"
        if slow < self.timeouts:
            time.sleep(self.timeout_seconds)
            return "timeout-before" if slow < self.timeouts / 2 else "timeout-after"
        return None

    def _recent(self, name: str, now: float) -> bool:
        root = getattr(self.inner, "root", None)
        if isinstance(root, str):
            try:
                mtime = os.stat(os.path.join(root, *name.split("/"))).st_mtime
            except OSError:
                return False
        else:
            mtime = self._put_at.get(name, 0.0)
        return now - mtime < self.recent_seconds

    def _fail(self, kind: str, what: str, name: str) -> TransientStorageError:
        if kind.startswith("timeout"):
            self.faults["timeout"] += 1
            return TransientStorageError(
                f"the vault {self.location}: {what} {name} timed out: injected fault ({kind})"
            )
        self.faults[kind] += 1
        return TransientStorageError(
            f"the vault {self.location}: {what} {name} failed: injected fault ({kind})"
        )

    def _run(self, what: str, name: str, op: Callable[[], T]) -> T:
        kind = self._fault()
        if kind in ("before", "timeout-before"):
            raise self._fail(kind, what, name)
        result = op()
        if kind is not None:
            raise self._fail(kind, what, name)
        return result

    def put(self, name: str, data: bytes | memoryview) -> None:
        lost = self.enabled and self.lost_writes and self._rng.random() < self.lost_writes

        def op() -> None:
            if lost:
                self.faults["lost"] += 1
                return
            self.inner.put(name, data)
            self._put_at[name] = time.time()

        self._run("writing", name, op)

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        return self._run("reading", name, lambda: self.inner.get(name, offset, length))

    def stat(self, name: str) -> BlobInfo:
        return self._run("reading", name, lambda: self.inner.stat(name))

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        kind = self._fault()
        if kind in ("before", "timeout-before"):
            raise self._fail(kind, "listing", prefix or "/")
        items = list(self.inner.list(prefix))
        if self.enabled and self.listing_drops:
            now = time.time()
            kept = []
            for info in items:
                if self._rng.random() < self.listing_drops and self._recent(info.name, now):
                    self.faults["dropped"] += 1
                    continue
                kept.append(info)
            items = kept
        if kind is not None:
            yield from items[: len(items) // 2]
            raise self._fail(kind, "listing", prefix or "/")
        yield from items

    def delete(self, name: str) -> None:
        self._run("deleting", name, lambda: self.inner.delete(name))
