"""Repair: rebuild the index from the packs' headers and mark the recovery points that lost data.

Like restic's `repair index` then a check of the snapshots, without rewriting them:

  1. under the exclusive lock, list the packs and read every pack whole; a pack whose header
     does not open is named and left out (`check --read-data` reports it, prune removes it once
     no index names it); a pack whose bytes do not hash to its name has the blobs that still
     open copied into new packs and is left out too (restic's `repair packs`), so a flipped
     byte loses only the blobs it hit;
  2. write the packs found in new index segments, then one superseding every segment there was,
     so the index in force names exactly the packs that exist and what their headers say;
  3. walk every recovery point against the new index: one that lacks data gets a damage record
     (vault/damage.py; listing shows it "damaged"); a point marked before that is whole again
     (a backup uploaded the lost data since) loses its mark;
  4. forget the points this machine saw that vanished without a prune (engine/seen.py): repair
     accepts the vault as it is, and says which.

Nothing is deleted but damage records. The next backup finds the lost data missing from the index
and uploads it again wherever it meets it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cairn.core.errors import BlobNotFound, CairnError, IntegrityError
from cairn.core.events import Progress, Reporter
from cairn.engine.reach import lacking
from cairn.vault.index import Index, Location
from cairn.vault.packs import (
    TRAILER_BYTES,
    PackInfo,
    PackWriter,
    check_entries,
    open_header,
    read_trailer,
)
from cairn.vault.repository import Repository


@dataclass
class RepairResult:
    packs_indexed: int = 0
    packs_unreadable: list[str] = field(default_factory=list)
    packs_salvaged: list[str] = field(default_factory=list)  # damaged: good blobs copied out
    blobs_lost: int = 0
    missing_packs: list[str] = field(default_factory=list)
    segments_superseded: int = 0
    points_checked: int = 0
    points_damaged: list[str] = field(default_factory=list)
    points_healed: list[str] = field(default_factory=list)
    points_vanished: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.points_damaged


def rebuild_index(repo: Repository, reporter: Reporter, result: RepairResult) -> Index:
    """The index as the packs' headers tell it, written whole; it supersedes every old segment."""
    named: set[str] = set()

    def damaged(seg: str, e: CairnError) -> None:
        reporter.warn("", f"index segment {seg[:16]} is damaged and is replaced: {e}")

    for packs in repo.segments_in_force(on_damage=damaged).values():
        named.update(p.pack_id for p in packs)
    segments = repo.list_segments()
    listing = repo.list_packs()
    progress = Progress("repair: read packs", files_total=len(listing))
    index = Index(segments=set(segments))
    writer = repo.pack_writer()
    salvaged: list[PackInfo] = []
    for pack_id, _size in sorted(listing.items()):
        try:
            data = repo.store.get(repo.layout.pack(pack_id))
            info = _pack_info(repo, pack_id, data)
        except (IntegrityError, BlobNotFound) as e:
            result.packs_unreadable.append(pack_id)
            reporter.warn("", f"pack {pack_id[:16]} is left out of the index: {e}")
            continue
        if repo.verify_pack_bytes(pack_id, data):
            index.add_pack(info)
        else:
            result.packs_salvaged.append(pack_id)
            salvaged.extend(_salvage(repo, info, data, writer, reporter, result))
        progress.files_done += 1
        reporter.progress(progress)
    last = writer.flush()
    for info in [*salvaged, *([last] if last is not None else [])]:
        index.add_pack(info)
    repo.rewrite_index(index)
    result.packs_indexed = len(index.packs)
    result.segments_superseded = len(segments)
    result.missing_packs = sorted(named - listing.keys())
    for pack_id in result.missing_packs:
        reporter.warn("", f"pack {pack_id[:16]} was named by the index but is missing")
    return index


def _pack_info(repo: Repository, pack_id: str, data: bytes) -> PackInfo:
    session, header_len = read_trailer(data[-TRAILER_BYTES:], len(data))
    header_off = len(data) - TRAILER_BYTES - header_len
    entries = open_header(repo.opener(session), session, data[header_off : header_off + header_len])
    check_entries(entries, header_off)
    return PackInfo(pack_id, session, len(data), tuple(entries))


def _salvage(
    repo: Repository,
    info: PackInfo,
    data: bytes,
    writer: PackWriter,
    reporter: Reporter,
    result: RepairResult,
) -> list[PackInfo]:
    """A pack whose bytes do not match its name: its blobs that still open are copied into new
    packs (which the index names instead); those that do not are lost, and named. The damaged pack
    is left out of the index, so prune removes it."""
    view = memoryview(data)
    written: list[PackInfo] = []
    lost = 0
    for e in info.entries:
        here = Location(info.pack_id, info.session_id, e.kind, e.offset, e.length, e.raw_length)
        try:
            plain = repo.open_blob(here, e.blob_id, view[e.offset : e.offset + e.length])
        except IntegrityError:
            lost += 1
            continue
        done = writer.add(e.kind, e.blob_id, plain)
        if done is not None:
            written.append(done)
    result.blobs_lost += lost
    reporter.warn(
        "",
        f"pack {info.pack_id[:16]} is damaged: {len(info.entries) - lost} blob(s) copied into a"
        f" new pack, {lost} lost (the next backup uploads what it still finds of them)",
    )
    return written


def repair(repo: Repository, *, now: datetime, reporter: Reporter | None = None) -> RepairResult:
    reporter = reporter or Reporter()
    result = RepairResult()
    with repo.locks.acquire(exclusive=True, purpose="repair"):
        index = rebuild_index(repo, reporter, result)
        marked = repo.damaged_points()
        reporter.progress(Progress("repair: recovery points"))
        points = repo.list_points(on_damage=reporter.warn)
        for point in points:
            result.points_checked += 1
            gaps = lacking(repo, index, point)
            if gaps:
                repo.damage.record(point.id, len(gaps), now)
                result.points_damaged.append(point.id)
                reporter.warn(
                    "",
                    f"recovery point {point.id[:8]} lost data and is marked damaged"
                    f" ({len(gaps)} missing; first: {gaps[0]})",
                )
            elif point.id in marked:
                repo.damage.clear(point.id)
                result.points_healed.append(point.id)
        for gone in marked - {p.id for p in points}:
            repo.damage.clear(gone)
        if repo.memory is not None:
            result.points_vanished = repo.memory.accept(repo.point_ids())
            for pid in result.points_vanished:
                reporter.warn(
                    "", f"recovery point {pid[:16]} vanished from the vault; no longer expected"
                )
    return result
