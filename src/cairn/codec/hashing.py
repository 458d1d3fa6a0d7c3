"""Hashes: keyed BLAKE3 names chunks and trees (ids reveal nothing); plain BLAKE3 names packs."""

from __future__ import annotations

from blake3 import blake3

ID_BYTES = 32


class IdHasher:
    """Keyed BLAKE3 of a plaintext: the id of a chunk or a tree."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the id key is 32 bytes")
        self._key = key

    def id_of(self, data: bytes | memoryview) -> bytes:
        return blake3(data, key=self._key).digest()


def content_hash(data: bytes | memoryview) -> bytes:
    """Unkeyed BLAKE3 of stored bytes: a pack's name, checkable without any key."""
    return blake3(data).digest()
