"""Seal and open one object: compress (zstd, kept only if it helps), then AEAD with associated data.

    plaintext frame = flag (1 byte: 0 stored, 1 zstd) || payload
    sealed          = nonce (12) || AES-256-GCM(frame, ad) || tag (16)

The associated data names the object's type and id, so a sealed chunk can never be opened as a tree,
nor one object swapped for another. `seal` opens what it made again and compares before returning it:
every object is verified before it is written.
"""

from __future__ import annotations

from cairn.codec.aead import Aead
from cairn.codec.compression import DEFAULT_LEVEL, compress, decompress
from cairn.core.errors import IntegrityError

FLAG_STORED = 0
FLAG_ZSTD = 1
MAX_OBJECT_BYTES = 64 << 20


def associated_data(kind: bytes, object_id: bytes) -> bytes:
    """`kind` is a short ASCII tag (b"chunk", b"tree", b"index", ...); `object_id` raw bytes."""
    return b"cairn/" + kind + b"/" + object_id


class Sealer:
    def __init__(self, key: bytes, level: int = DEFAULT_LEVEL, *, verify: bool = True) -> None:
        self._aead = Aead(key)
        self._level = level
        self._verify = verify

    def seal(self, data: bytes | memoryview, ad: bytes, *, compressible: bool = True) -> bytearray:
        raw = memoryview(data)
        payload: bytes | memoryview = raw
        flag = FLAG_STORED
        if compressible and len(raw) > 64:
            packed = compress(raw, self._level)
            if len(packed) < len(raw) - len(raw) // 64:
                payload, flag = packed, FLAG_ZSTD
        frame = bytearray(1 + len(payload))
        frame[0] = flag
        frame[1:] = payload
        sealed = self._aead.encrypt(frame, ad)
        del frame, payload
        if self._verify and self.open(sealed, ad, max_size=max(len(raw), 1)) != raw:
            raise IntegrityError("a sealed object did not open to what was sealed")
        return sealed

    def open(
        self, sealed: bytes | bytearray | memoryview, ad: bytes, max_size: int = MAX_OBJECT_BYTES
    ) -> bytes:
        frame = self._aead.decrypt(sealed, ad)
        if not frame:
            raise IntegrityError("a sealed object is empty")
        flag = frame[0]
        if flag == FLAG_STORED:
            if len(frame) - 1 > max_size:
                raise IntegrityError("a sealed object is larger than allowed")
            return frame[1:]
        if flag == FLAG_ZSTD:
            return decompress(memoryview(frame)[1:], max_size)
        raise IntegrityError(f"a sealed object has an unknown frame flag {flag}")
