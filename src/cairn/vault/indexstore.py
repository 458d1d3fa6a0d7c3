"""The index side of one machine's store: listing packs and segments, loading the index in
force, writing segments, indexing packs no segment names, and finding a blob the index lacks.

`Repository` (repository.py) is built on it; this part knows packs and segments only, never
trees or recovery points.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from cairn.codec.hashing import content_hash
from cairn.codec.keys import MasterKey
from cairn.codec.sealing import Sealer
from cairn.core.errors import BlobNotFound, CairnError, IntegrityError
from cairn.core.ids import is_hex_id, random_id
from cairn.storage.blobstore import BlobStore, put_verified
from cairn.vault.index import Index, Location, decode_segment, encode_segment
from cairn.vault.layout import MachineLayout
from cairn.vault.objects import ObjectSealer
from cairn.vault.packs import TRAILER_BYTES, PackInfo, check_entries, open_header, read_trailer

RECOVERED_PER_SEGMENT = 64
REWRITTEN_PER_SEGMENT = 256
RELISTINGS = 3


class IndexStore:
    store: BlobStore
    layout: MachineLayout
    key: MasterKey
    objects: ObjectSealer
    problems: list[str]
    _openers: dict[bytes, Sealer]

    def opener(self, session_id: bytes) -> Sealer:
        s = self._openers.get(session_id)
        if s is None:
            s = self._openers[session_id] = Sealer(self.key.session_key(session_id))
        return s

    def list_packs(self) -> dict[str, int]:
        out = {}
        for info in self.store.list(self.layout.prefix("packs")):
            pack_id = info.name.rsplit("/", 1)[1]
            if is_hex_id(pack_id):
                out[pack_id] = info.size
        return out

    def confirm_packs(self, listing: dict[str, int], expected: Iterable[str]) -> dict[str, int]:
        """`listing` plus the `expected` packs it lacks that are stored all the same: a listing
        may miss recent blobs (eventual consistency), a read by name does not, so absence from a
        listing alone never condemns a pack."""
        out = dict(listing)
        for pack_id in expected:
            if pack_id in out:
                continue
            try:
                out[pack_id] = self.store.stat(self.layout.pack(pack_id)).size
            except BlobNotFound:
                continue
        return out

    def read_pack_header(self, pack_id: str, size: int | None = None) -> PackInfo:
        name = self.layout.pack(pack_id)
        if size is None:
            size = self.store.stat(name).size
        if size < TRAILER_BYTES:
            raise IntegrityError(f"pack {pack_id} is truncated")
        tail = self.store.get(name, size - TRAILER_BYTES, TRAILER_BYTES)
        session, header_len = read_trailer(tail, size)
        header_offset = size - TRAILER_BYTES - header_len
        sealed = self.store.get(name, header_offset, header_len)
        entries = open_header(self.opener(session), session, sealed)
        check_entries(entries, header_offset)
        return PackInfo(pack_id, session, size, tuple(entries))

    def list_segments(self) -> list[str]:
        out = []
        for info in self.store.list(self.layout.prefix("index")):
            seg = info.name.rsplit("/", 1)[1]
            if is_hex_id(seg):
                out.append(seg)
        return out

    def read_segment(self, segment_id: str) -> tuple[list[PackInfo], list[str]]:
        data = self.store.get(self.layout.index(segment_id))
        return decode_segment(self.objects.open(b"index", bytes.fromhex(segment_id), data))

    def segments_in_force(
        self, on_damage: Callable[[str, CairnError], None] | None = None
    ) -> dict[str, list[PackInfo]]:
        """Every index segment no other segment supersedes, with its packs.

        A segment that does not open goes to `on_damage`; without it, a vanished one (removed by
        a concurrent prune after it wrote its replacement) is skipped and any other error raised.
        """
        segments: dict[str, list[PackInfo]] = {}
        superseded: set[str] = set()
        for seg in self.list_segments():
            try:
                packs, sup = self.read_segment(seg)
            except CairnError as e:
                if on_damage is not None:
                    on_damage(seg, e)
                    continue
                if isinstance(e, BlobNotFound):
                    continue
                raise
            segments[seg] = packs
            superseded.update(sup)
        return {seg: packs for seg, packs in segments.items() if seg not in superseded}

    def load_index(self, on_damage: Callable[[str, str], None] | None = None) -> Index:
        """The index in force. A segment that does not open is skipped and named (to `on_damage`,
        else in `problems`), and the packs no other segment names are indexed again from their
        headers, in memory (`recover_packs` writes them down), so the points stay restorable."""
        index = Index()
        damaged: list[str] = []

        def skip(seg: str, e: CairnError) -> None:
            if isinstance(e, BlobNotFound):
                return  # removed by a concurrent prune after it wrote its replacement
            if not isinstance(e, IntegrityError):
                raise e  # a storage fault, not damage
            damaged.append(seg)
            self.problem(
                on_damage,
                f"index segment {seg[:16]} ({self.layout.index(seg)}) is damaged and skipped: {e};"
                " its packs are indexed again from their headers",
            )

        for seg, packs in self.segments_in_force(on_damage=skip).items():
            index.segments.add(seg)
            for p in packs:
                index.add_pack(p)
        if damaged:
            index.unwritten.extend(self.recover_packs(index, write=False))
        return index

    def problem(self, on_damage: Callable[[str, str], None] | None, message: str) -> None:
        if on_damage is not None:
            on_damage("", message)
        else:
            self.problems.append(message)

    def write_segment(self, packs: Iterable[PackInfo], superseded: Iterable[str] = ()) -> str:
        seg = random_id()
        payload = encode_segment(packs, superseded)
        put_verified(
            self.store,
            self.layout.index(seg),
            self.objects.seal(b"index", bytes.fromhex(seg), payload),
        )
        return seg

    def rewrite_index(self, index: Index) -> None:
        """Write `index` whole in new segments, then one superseding the segments it was loaded
        from (not those a concurrent backup wrote since). Superseded segments are left for prune."""
        packs = list(index.packs.values())
        for start in range(0, len(packs), REWRITTEN_PER_SEGMENT):
            self.write_segment(packs[start : start + REWRITTEN_PER_SEGMENT])
        self.write_segment([], superseded=sorted(index.segments))

    def drop_missing_packs(self, index: Index, listing: dict[str, int]) -> tuple[Index, list[str]]:
        """The index less the packs it names that `listing` lacks, and their ids (sorted).

        When some are missing, the index in force is rewritten without them, so that the data a
        backup uploads again is the copy every reader finds. On the strength of a listing this
        only ever causes uploads: a pack a listing missed is indexed again by `recover_packs`.
        """
        missing = sorted(p for p in index.packs if p not in listing)
        if not missing:
            return index, []
        healed = index.without(set(missing))
        self.rewrite_index(healed)
        return healed, missing

    def recover_packs(
        self, index: Index, listing: dict[str, int] | None = None, *, write: bool = True
    ) -> list[PackInfo]:
        """Index the packs that no index segment names (left by a killed backup, or dropped from
        the index on the strength of a listing that missed them); `write=False` only in memory."""
        found = []
        if write and index.unwritten:
            found.extend(index.unwritten)  # indexed in memory when a segment was damaged
            index.unwritten = []
        if listing is None:
            listing = self.list_packs()
        for pack_id, size in listing.items():
            if pack_id in index.packs:
                continue
            try:
                if content_hash(self.store.get(self.layout.pack(pack_id))).hex() != pack_id:
                    continue  # damaged: not trusted for dedup; check reports it, prune removes it
                info = self.read_pack_header(pack_id, size)
            except (IntegrityError, BlobNotFound):
                continue  # a damaged orphan is left for check to report and prune to remove
            found.append(info)
        for start in range(0, len(found) if write else 0, RECOVERED_PER_SEGMENT):
            self.write_segment(found[start : start + RECOVERED_PER_SEGMENT])
        for info in found:
            index.add_pack(info)
        return found

    def locate(self, index: Index, blob_id: bytes) -> Location | None:
        """Where a blob is. One the index lacks makes the segments read again (those in force
        and not loaded are added) and then the packs no segment names indexed from their headers, in
        memory, up to RELISTINGS times per index: a listing may miss recent blobs (eventual
        consistency), so a blob is called missing only after several listings lacked it."""
        loc = index.get(blob_id)
        while loc is None and index.relisted < RELISTINGS:
            index.relisted += 1
            in_force = self.segments_in_force(on_damage=lambda seg, e: None)
            for seg, packs in in_force.items():
                if seg not in index.segments:
                    index.segments.add(seg)
                    for p in packs:
                        index.add_pack(p)
            if blob_id not in index:
                self.recover_packs(index, write=False)
            loc = index.get(blob_id)
        return loc
