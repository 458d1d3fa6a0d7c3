"""The `BlobStore` protocol: bytes by name. Everything Cairn keeps in a vault goes through it.

Contract (the conformance suite in tests/storage checks every backend against it):
  - Names are relative, lowercase ASCII (`a-z 0-9 . _ -`), `/`-separated, no empty part, no `.` or `..`
    part, at most 255 characters; `check_name` enforces this for every backend.
  - `put` is atomic: a reader sees the old blob, no blob, or the whole new blob, never part of one.
    Putting a name that exists replaces it. Calling `put` twice with the same bytes is harmless, so a
    retry after an unknown outcome is safe.
  - `get` of a missing name raises `BlobNotFound`; a range past the end returns what there is.
  - `list(prefix)` yields every blob whose name starts with `prefix`, in no promised order.
  - `delete` of a missing name raises `BlobNotFound`.
  - `put_if_absent(name, data)` (optional; `put_if_absent` below falls back to stat + put) creates
    the blob only if the name is free and says whether it did: local folders use link(2), S3 sends
    If-None-Match: *, Azure If-None-Match: * through `overwrite=False`. Use it where a second writer
    must lose (vault.json); `put` replaces.
  - A full disk or quota raises `NoSpace`; a failure that may succeed if tried again (a timeout, a
    reset, 5xx, 429/503) raises `TransientStorageError`; any other failure of the storage raises
    `StorageError` (or a subclass) with a message that names the vault and the cause and never a
    secret.

Wrappers, composable around any backend: `retrying.py` (backoff on transient errors only; a
`delete` retried after an unknown outcome counts `BlobNotFound` as done) and `faulty.py` (fault
injection, for tests only).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from cairn.core.errors import BlobNotFound, StorageError

_NAME = re.compile(r"^[a-z0-9._-]+(/[a-z0-9._-]+)*$")


@dataclass(frozen=True, slots=True)
class BlobInfo:
    name: str
    size: int


def check_name(name: str) -> str:
    if len(name) > 255 or not _NAME.match(name) or any(p in (".", "..") for p in name.split("/")):
        raise StorageError(f"invalid blob name {name!r}")
    return name


class BlobStore(Protocol):
    location: str

    def put(self, name: str, data: bytes | memoryview) -> None: ...

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes: ...

    def stat(self, name: str) -> BlobInfo: ...

    def list(self, prefix: str = "") -> Iterator[BlobInfo]: ...

    def delete(self, name: str) -> None: ...


def put_verified(store: BlobStore, name: str, data: bytes | memoryview, attempts: int = 3) -> None:
    """`put`, then `stat` to see the blob stored whole, written again if not: a storage that
    acknowledges a write it then loses must not leave a name others rely on (a pack an index
    segment names, a segment a recovery point needs, the point itself) pointing at nothing.
    After `attempts` writes that did not land, a `StorageError` naming the blob."""
    size = len(data)
    for _ in range(attempts):
        store.put(name, data)
        try:
            if store.stat(name).size == size:
                return
        except BlobNotFound:
            pass
    raise StorageError(
        f"the vault {store.location}: {name} was written {attempts} times and acknowledged,"
        " but is not stored: the storage loses writes; check it before backing up again"
    )


def put_if_absent(store: BlobStore, name: str, data: bytes | memoryview) -> bool:
    """Create `name` only if no blob has it; True if this call created it. Atomic where the backend
    offers `put_if_absent`; otherwise a stat then a put (a race can then let both writers win)."""
    method = getattr(store, "put_if_absent", None)
    if method is not None:
        return bool(method(name, data))
    try:
        store.stat(name)
    except BlobNotFound:
        store.put(name, data)
        return True
    return False
