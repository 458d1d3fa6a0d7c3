"""An in-memory `BlobStore`, for tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from cairn.core.errors import BlobNotFound
from cairn.storage.blobstore import BlobInfo, check_name


class MemoryBlobStore:
    def __init__(self, location: str = "memory://") -> None:
        self.location = location
        self._blobs: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put(self, name: str, data: bytes | memoryview) -> None:
        check_name(name)
        with self._lock:
            self._blobs[name] = bytes(data)

    def put_if_absent(self, name: str, data: bytes | memoryview) -> bool:
        check_name(name)
        with self._lock:
            if name in self._blobs:
                return False
            self._blobs[name] = bytes(data)
            return True

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        check_name(name)
        with self._lock:
            data = self._blobs.get(name)
        if data is None:
            raise BlobNotFound(f"{self.location}: no blob {name}")
        end = len(data) if length is None else offset + length
        return data[offset:end]

    def stat(self, name: str) -> BlobInfo:
        return BlobInfo(name, len(self.get(name)))

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        with self._lock:
            items = [BlobInfo(n, len(d)) for n, d in self._blobs.items() if n.startswith(prefix)]
        yield from items

    def delete(self, name: str) -> None:
        check_name(name)
        with self._lock:
            if self._blobs.pop(name, None) is None:
                raise BlobNotFound(f"{self.location}: no blob {name}")
