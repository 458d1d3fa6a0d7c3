"""A test hook: kill this process (SIGKILL, as `kill -9`) right after its k-th write.

    CAIRN_TEST_KILL_AFTER_WRITES=k

counts every write to the vault (put, delete, through `open_vault_store`) and to CAIRN_HOME
(`write_private`) in one sequence, and kills the process just after the k-th is done. Crash tests
run a command once for every k to prove that no moment of it can leave the machine unusable
(tests/cli/test_passphrase_cli.py). Unset, nothing is wrapped and nothing is counted.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

from cairn.storage.blobstore import BlobInfo, BlobStore

ENV = "CAIRN_TEST_KILL_AFTER_WRITES"

_done = 0


def armed() -> bool:
    return bool(os.environ.get(ENV))


def wrote() -> None:
    """One write is done: the process dies here if it was the k-th."""
    global _done
    limit = os.environ.get(ENV)
    if not limit:
        return
    _done += 1
    if _done >= int(limit):
        os.kill(os.getpid(), signal.SIGKILL)


class KillingStore:
    """A store that calls `wrote()` after each put and delete of the store it wraps."""

    def __init__(self, inner: BlobStore) -> None:
        self.inner = inner
        self.location = inner.location

    def put(self, name: str, data: bytes | memoryview) -> None:
        self.inner.put(name, data)
        wrote()

    def put_if_absent(self, name: str, data: bytes | memoryview) -> bool:
        method = getattr(self.inner, "put_if_absent", None)
        if method is None:
            self.inner.put(name, data)
            created = True
        else:
            created = bool(method(name, data))
        wrote()
        return created

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        return self.inner.get(name, offset, length)

    def stat(self, name: str) -> BlobInfo:
        return self.inner.stat(name)

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        return self.inner.list(prefix)

    def delete(self, name: str) -> None:
        self.inner.delete(name)
        wrote()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
