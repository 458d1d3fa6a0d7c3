"""Packs: many sealed blobs, then a sealed header that lists them, then a plaintext trailer.

    pack    = blob_0 || ... || blob_n-1 || sealed header || session id (16) || header length (u32 LE)
              || magic b"CAIRNPK1"
    blob_i  = sealed(chunk or tree plaintext, ad = cairn/data/<id> or cairn/tree/<id>)
    header  = version u8 (1) || count u32 || count x entry
    entry   = type u8 (0 data, 1 tree) || id (32) || offset u32 || length u32 || raw length u32
    header is sealed with ad = cairn/packheader/<session id>
    name    = hex BLAKE3 (unkeyed) of the whole pack

Blobs are sealed with the session key of the pack's session (keys.py), so a reader needs the session
id, which the trailer and every index entry carry.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from cairn.codec.hashing import content_hash
from cairn.codec.keys import SESSION_ID_BYTES, MasterKey, new_session_id
from cairn.codec.sealing import Sealer, associated_data, sealed_length
from cairn.core.errors import IntegrityError

MAGIC = b"CAIRNPK1"
TRAILER_BYTES = SESSION_ID_BYTES + 4 + len(MAGIC)
HEADER_VERSION = 1
DATA = 0
TREE = 1
KIND_TAGS = {DATA: b"data", TREE: b"tree"}
_ENTRY = struct.Struct("<B32sIII")
TARGET_PACK_BYTES = 4 << 20
MAX_HEADER_ENTRIES = 1 << 20


class PackEntry(NamedTuple):
    """One blob in a pack (a tuple, so headers and index segments decode fast)."""

    kind: int
    blob_id: bytes
    offset: int
    length: int
    raw_length: int


@dataclass(frozen=True, slots=True)
class PackInfo:
    pack_id: str
    session_id: bytes
    size: int
    entries: tuple[PackEntry, ...]


def blob_ad(kind: int, blob_id: bytes) -> bytes:
    return associated_data(KIND_TAGS[kind], blob_id)


def encode_header(entries: list[PackEntry]) -> bytes:
    parts = [struct.pack("<BI", HEADER_VERSION, len(entries))]
    parts.extend(_ENTRY.pack(e.kind, e.blob_id, e.offset, e.length, e.raw_length) for e in entries)
    return b"".join(parts)


def decode_header(data: bytes) -> list[PackEntry]:
    if len(data) < 5 or data[0] != HEADER_VERSION:
        raise IntegrityError("a pack header has an unknown version")
    (count,) = struct.unpack_from("<I", data, 1)
    if count > MAX_HEADER_ENTRIES or len(data) != 5 + count * _ENTRY.size:
        raise IntegrityError("a pack header has the wrong length")
    entries = list(map(PackEntry._make, _ENTRY.iter_unpack(memoryview(data)[5:])))
    if any(e.kind not in KIND_TAGS for e in entries):
        raise IntegrityError("a pack header names an unknown blob type")
    return entries


class PackWriter:
    """Collects sealed blobs of one session; a pack is uploaded through `upload(info, data)`.

    A blob is sealed straight into the pack's buffer. One that would take the pack past the target
    size goes to the next pack (the pack so far is uploaded first), so a buffer grows to the
    target size and no further, unless a single blob is larger.

    With `buffers=1`, `upload` must be done with the data when it returns. With `buffers=2` the
    writer fills the other buffer next, so `upload` may keep the data until the following upload
    call returns (an uploader that writes one pack while the next one fills waits, in `upload`,
    for the pack before).
    """

    def __init__(
        self,
        key: MasterKey,
        upload: Callable[[PackInfo, memoryview], None],
        *,
        level: int,
        target_bytes: int = TARGET_PACK_BYTES,
        buffers: int = 1,
    ) -> None:
        self.session_id = new_session_id()
        self.sealer = Sealer(key.session_key(self.session_id), level)
        self._upload = upload
        self._target = target_bytes
        self._buffers = [bytearray() for _ in range(max(1, buffers))]
        self._turn = 0
        self._buf = self._buffers[0]
        self._size = 0
        self._entries: list[PackEntry] = []

    @property
    def pending_bytes(self) -> int:
        return self._size

    def _reserve(self, end: int) -> None:
        if end > len(self._buf):
            # Grown in quarter-pack steps up to the target, then reused for every pack.
            step = min(len(self._buf) + self._target // 4, self._target)
            self._buf.extend(bytes(max(end, step) - len(self._buf)))

    def _append(self, data: bytes | bytearray) -> None:
        end = self._size + len(data)
        self._reserve(end)
        self._buf[self._size : end] = data
        self._size = end

    def add(
        self, kind: int, blob_id: bytes, plaintext: bytes | memoryview, *, compressible: bool = True
    ) -> PackInfo | None:
        """Seal and append a blob; returns the info of the pack this uploaded, if it did."""
        flag, payload = self.sealer.frame(plaintext, compressible=compressible)
        length = sealed_length(len(payload))
        info = None
        if self._entries and self._size + length > self._target:
            info = self.flush()
        start, end = self._size, self._size + length
        self._reserve(end)
        with memoryview(self._buf) as view:
            self.sealer.seal_frame_into(
                view[start:end], flag, payload, plaintext, blob_ad(kind, blob_id)
            )
        del payload
        self._entries.append(PackEntry(kind, blob_id, start, length, len(plaintext)))
        self._size = end
        return info

    def flush(self) -> PackInfo | None:
        if not self._entries:
            return None
        header = self.sealer.seal(
            encode_header(self._entries), associated_data(b"packheader", self.session_id)
        )
        self._append(header)
        self._append(self.session_id + struct.pack("<I", len(header)) + MAGIC)
        data = memoryview(self._buf)[: self._size]
        info = PackInfo(content_hash(data).hex(), self.session_id, self._size, tuple(self._entries))
        self._upload(info, data)
        del data
        self._turn = (self._turn + 1) % len(self._buffers)
        self._buf = self._buffers[self._turn]
        self._size = 0
        self._entries = []
        return info


def read_trailer(tail: bytes, pack_size: int) -> tuple[bytes, int]:
    """(session id, header length) from a pack's last bytes."""
    if len(tail) < TRAILER_BYTES or tail[-len(MAGIC) :] != MAGIC:
        raise IntegrityError("a pack has no valid trailer")
    t = tail[-TRAILER_BYTES:]
    session_id = t[:SESSION_ID_BYTES]
    (header_len,) = struct.unpack_from("<I", t, SESSION_ID_BYTES)
    if header_len + TRAILER_BYTES > pack_size:
        raise IntegrityError("a pack's header length is larger than the pack")
    return session_id, header_len


def open_header(sealer: Sealer, session_id: bytes, sealed_header: bytes) -> list[PackEntry]:
    plain = sealer.open(sealed_header, associated_data(b"packheader", session_id))
    return decode_header(plain)


def check_entries(entries: list[PackEntry], header_offset: int) -> None:
    """Blobs must lie inside the pack's data area."""
    for e in entries:
        if e.offset + e.length > header_offset:
            raise IntegrityError("a pack header points past the pack's data")
