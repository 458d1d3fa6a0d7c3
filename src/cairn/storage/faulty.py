"""A `BlobStore` wrapper that fails on purpose. For tests only: nothing outside tests uses it.

`FaultyBlobStore(inner, rate, seed)` fails about `rate` of the operations with
`TransientStorageError`, chosen by a random generator seeded with `seed` (so a failing run can be
repeated). Half of the failures come BEFORE the operation (nothing happened) and half AFTER it:
the operation was carried out on `inner` but the caller sees an error, which is what a lost reply
looks like on a network (a put that landed, a delete that deleted). A listing that fails AFTER
yields part of the names first, then fails half way.

`faults` counts the failures injected, by kind ("before" / "after"), in this process (a worker
process forked with the store counts its own).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TypeVar

from cairn.core.errors import TransientStorageError
from cairn.storage.blobstore import BlobInfo, BlobStore

T = TypeVar("T")


class FaultyBlobStore:
    def __init__(self, inner: BlobStore, rate: float, seed: int | str = 0) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate is a share of operations, between 0 and 1")
        self.inner = inner
        self.location = inner.location
        self.rate = rate
        self.enabled = True
        self.faults: Counter[str] = Counter()
        self._rng = random.Random(seed)

    def __repr__(self) -> str:
        return f"FaultyBlobStore({self.inner!r}, rate={self.rate})"

    def _fault(self) -> str | None:
        """None (no fault), "before" or "after"; one draw of the generator either way."""
        draw = self._rng.random()
        if not self.enabled or draw >= self.rate:
            return None
        return "before" if draw < self.rate / 2 else "after"

    def _fail(self, kind: str, what: str, name: str) -> TransientStorageError:
        self.faults[kind] += 1
        return TransientStorageError(
            f"the vault {self.location}: {what} {name} failed: injected fault ({kind})"
        )

    def _run(self, what: str, name: str, op: Callable[[], T]) -> T:
        kind = self._fault()
        if kind == "before":
            raise self._fail(kind, what, name)
        result = op()
        if kind == "after":
            raise self._fail(kind, what, name)
        return result

    def put(self, name: str, data: bytes | memoryview) -> None:
        self._run("writing", name, lambda: self.inner.put(name, data))

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        return self._run("reading", name, lambda: self.inner.get(name, offset, length))

    def stat(self, name: str) -> BlobInfo:
        return self._run("reading", name, lambda: self.inner.stat(name))

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        kind = self._fault()
        if kind == "before":
            raise self._fail(kind, "listing", prefix or "/")
        items = list(self.inner.list(prefix))
        if kind == "after":
            yield from items[: len(items) // 2]
            raise self._fail(kind, "listing", prefix or "/")
        yield from items

    def delete(self, name: str) -> None:
        self._run("deleting", name, lambda: self.inner.delete(name))
