"""Seal and open one object: compress (zstd, kept only if it helps), then AEAD with associated data.

    plaintext frame = flag (1 byte: 0 stored, 1 zstd) || payload
    sealed          = nonce (12) || AES-256-GCM(frame, ad) || tag (16)

The associated data names the object's type and id, so a sealed chunk can never be opened as a tree,
nor one object swapped for another. `seal` opens what it made again and compares before returning it:
every object is verified before it is written.

`frame` then `seal_frame_into` seal straight into a caller's buffer (a pack being filled): the frame is
never assembled and the check decrypts piece by piece, so sealing a chunk holds no copy of it beyond
its compressed form and one decompressed copy while it is checked.
"""

from __future__ import annotations

from cairn.codec.aead import OVERHEAD, PIECE_BYTES, Aead, Buffer
from cairn.codec.compression import DEFAULT_LEVEL, compress, decompress
from cairn.core.errors import IntegrityError

FLAG_STORED = 0
FLAG_ZSTD = 1
MAX_OBJECT_BYTES = 64 << 20
_FLAG_BYTES = (bytes([FLAG_STORED]), bytes([FLAG_ZSTD]))


def associated_data(kind: bytes, object_id: bytes) -> bytes:
    """`kind` is a short ASCII tag (b"chunk", b"tree", b"index", ...); `object_id` raw bytes."""
    return b"cairn/" + kind + b"/" + object_id


def sealed_length(payload_bytes: int) -> int:
    """The sealed size of a frame whose payload has this many bytes."""
    return OVERHEAD + 1 + payload_bytes


def same_bytes(a: Buffer, b: Buffer) -> bool:
    """a == b for any two buffers, at memcmp speed (comparing memoryviews goes byte by byte)."""
    va, vb = memoryview(a), memoryview(b)
    if va.nbytes != vb.nbytes:
        return False
    for start in range(0, va.nbytes, PIECE_BYTES):
        if bytearray(va[start : start + PIECE_BYTES]) != vb[start : start + PIECE_BYTES]:
            return False
    return True


class Sealer:
    def __init__(self, key: bytes, level: int = DEFAULT_LEVEL, *, verify: bool = True) -> None:
        self._aead = Aead(key)
        self._level = level
        self._verify = verify

    def frame(self, data: Buffer, *, compressible: bool = True) -> tuple[int, Buffer]:
        """(flag, payload) of the frame that will be sealed: zstd if it saves over 1/64."""
        raw = memoryview(data)
        if compressible and len(raw) > 64:
            packed = compress(raw, self._level)
            if len(packed) < len(raw) - len(raw) // 64:
                return FLAG_ZSTD, packed
        return FLAG_STORED, raw

    def seal(self, data: Buffer, ad: bytes, *, compressible: bool = True) -> bytearray:
        flag, payload = self.frame(data, compressible=compressible)
        out = bytearray(sealed_length(len(payload)))
        self.seal_frame_into(memoryview(out), flag, payload, data, ad)
        return out

    def seal_frame_into(
        self, out: memoryview, flag: int, payload: Buffer, data: Buffer, ad: bytes
    ) -> int:
        """Seal the frame (`flag`, `payload`) of `data` into `out`; returns the sealed length.
        `out` must hold `sealed_length(len(payload))` bytes."""
        n = self._aead.seal_into((_FLAG_BYTES[flag], payload), ad, out)
        if self._verify:
            self._check(out[:n], flag, payload, data, ad)
        return n

    def _check(
        self, sealed: memoryview, flag: int, payload: Buffer, data: Buffer, ad: bytes
    ) -> None:
        """What `open` would make of `sealed` is `data`: it decrypts to the frame, and the frame
        decodes to the data."""
        ok = self._aead.matches(sealed, ad, (_FLAG_BYTES[flag], payload))
        if ok and flag == FLAG_ZSTD:
            raw = memoryview(data)
            ok = same_bytes(decompress(payload, max(raw.nbytes, 1)), raw)
        if not ok:
            raise IntegrityError("a sealed object did not open to what was sealed")

    def open(self, sealed: Buffer, ad: bytes, max_size: int = MAX_OBJECT_BYTES) -> bytes:
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
