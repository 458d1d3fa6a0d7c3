"""The index: blob id -> (pack, offset, length). Kept in sealed segments; loaded whole into memory.

    segment    = version u8 (1) || pack count u32 || packs || superseded count u32 || superseded ids
    pack       = pack id (32) || session id (16) || entry count u32 || entries
    entry      = type u8 || blob id (32) || offset u32 || length u32 || raw length u32
    superseded = segment ids (32 bytes each) that this segment replaces (written by prune)

A segment is a standalone sealed object of kind "index" (objects.py).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from cairn.core.errors import IntegrityError
from cairn.vault.packs import KIND_TAGS, PackEntry, PackInfo

SEGMENT_VERSION = 1
_ENTRY = struct.Struct("<B32sIII")
_PACK = struct.Struct("<32s16sI")


@dataclass(frozen=True, slots=True)
class Location:
    pack_id: str
    session_id: bytes
    kind: int
    offset: int
    length: int
    raw_length: int


def encode_segment(packs: Iterable[PackInfo], superseded: Iterable[str] = ()) -> bytes:
    packs = list(packs)
    out = [struct.pack("<BI", SEGMENT_VERSION, len(packs))]
    for p in packs:
        out.append(_PACK.pack(bytes.fromhex(p.pack_id), p.session_id, len(p.entries)))
        out.extend(
            _ENTRY.pack(e.kind, e.blob_id, e.offset, e.length, e.raw_length) for e in p.entries
        )
    sup = list(superseded)
    out.append(struct.pack("<I", len(sup)))
    out.extend(bytes.fromhex(s) for s in sup)
    return b"".join(out)


def decode_segment(data: bytes) -> tuple[list[PackInfo], list[str]]:
    try:
        if data[0] != SEGMENT_VERSION:
            raise IntegrityError("an index segment has an unknown version")
        (npacks,) = struct.unpack_from("<I", data, 1)
        pos = 5
        packs: list[PackInfo] = []
        for _ in range(npacks):
            pid, session, count = _PACK.unpack_from(data, pos)
            pos += _PACK.size
            end = pos + count * _ENTRY.size
            if end > len(data):
                raise IntegrityError("an index segment is truncated")
            entries = tuple(map(PackEntry._make, _ENTRY.iter_unpack(data[pos:end])))
            if any(e.kind not in KIND_TAGS for e in entries):
                raise IntegrityError("an index segment names an unknown blob type")
            packs.append(PackInfo(pid.hex(), session, 0, entries))
            pos = end
        (nsup,) = struct.unpack_from("<I", data, pos)
        pos += 4
        if pos + 32 * nsup != len(data):
            raise IntegrityError("an index segment has the wrong length")
        superseded = [data[pos + 32 * i : pos + 32 * i + 32].hex() for i in range(nsup)]
    except (struct.error, IndexError):
        raise IntegrityError("an index segment is truncated") from None
    return packs, superseded


@dataclass
class Index:
    """All segments merged; the first location seen for a blob wins, the others are kept as
    spare copies (`copies`) for readers to fall back on when that one is damaged or gone.

    Kept as plain tuples (pack number, kind, offset, length, raw length) so that loading tens of
    thousands of entries stays cheap; `get` builds a `Location` on demand.
    """

    _blobs: dict[bytes, tuple[int, int, int, int, int]] = field(default_factory=dict)
    _spares: dict[bytes, list[tuple[int, int, int, int, int]]] = field(default_factory=dict)
    _packs: list[PackInfo] = field(default_factory=list)
    packs: dict[str, PackInfo] = field(default_factory=dict)
    segments: set[str] = field(default_factory=set)
    # Packs indexed from their headers in memory (a segment naming them was damaged): the next
    # writer (`Repository.recover_packs`) writes them in a segment.
    unwritten: list[PackInfo] = field(default_factory=list)
    # How often the segments and packs were listed again since it was loaded, to find a blob it
    # lacks (`Repository.locate`: a listing may have missed a recent segment).
    relisted: int = 0

    def add_pack(self, pack: PackInfo) -> None:
        if pack.pack_id in self.packs:
            return
        self.packs[pack.pack_id] = pack
        number = len(self._packs)
        self._packs.append(pack)
        blobs = self._blobs
        for kind, blob_id, offset, length, raw in pack.entries:
            if blob_id not in blobs:
                blobs[blob_id] = (number, kind, offset, length, raw)
            else:
                self._spares.setdefault(blob_id, []).append((number, kind, offset, length, raw))

    def __contains__(self, blob_id: bytes) -> bool:
        return blob_id in self._blobs

    def get(self, blob_id: bytes) -> Location | None:
        t = self._blobs.get(blob_id)
        if t is None:
            return None
        return self._location(t)

    def copies(self, blob_id: bytes) -> list[Location]:
        """Every location of a blob the index knows, the one `get` gives first."""
        t = self._blobs.get(blob_id)
        if t is None:
            return []
        return [self._location(c) for c in [t, *self._spares.get(blob_id, ())]]

    def _location(self, t: tuple[int, int, int, int, int]) -> Location:
        pack = self._packs[t[0]]
        return Location(pack.pack_id, pack.session_id, t[1], t[2], t[3], t[4])

    def __len__(self) -> int:
        return len(self._blobs)

    def ids(self) -> Iterator[bytes]:
        return iter(self._blobs)

    def without(self, pack_ids: set[str]) -> Index:
        """This index less the packs named (a blob also in another pack keeps that copy)."""
        out = Index(segments=set(self.segments))
        for pack in self._packs:
            if pack.pack_id not in pack_ids:
                out.add_pack(pack)
        return out
