"""Prune: delete the recovery points that have expired, then the data no point needs any more.

Data is removed in two phases with a grace period, so that nothing is ever deleted on the strength
of one listing or of a local cache:

  1. mark: every tree and chunk the kept recovery points reach. If any of them is missing from the
     index, prune stops with exit 14 before deleting anything (the vault is damaged: run check),
     unless every point lacking data carries a damage record (`cairn repair` wrote it): those are
     named, and what they still reach is kept. Data below a tree a damaged point lost cannot be
     reached, so it is no longer kept for that point.
  2. delete the expired recovery points.
  3. repack: packs that are mostly unused get their used blobs copied into new packs (indexed
     before anything else changes), which leaves the old packs wholly unused.
  4. a pack that no kept point uses is *unreferenced*. This run records, in a sealed prune state
     (machines/<m>/prune/<id>), when each unreferenced pack was first seen so. A pack is deleted
     only when an earlier run already found it unreferenced, this run's own listing finds it
     unreferenced again, and the grace period has passed since it was first seen.
     A pack holding a copy of a blob a point uses is deleted only once the copy kept elsewhere
     reads back whole; if it does not, both stay and the damaged one is named.
  5. the index is rewritten without the packs about to be deleted (new segments first, then one
     that supersedes the old ones), then those packs and the old segments are deleted.

A recovery point that does not open (damaged, or a foreign object in points/) is named and
skipped; while one exists prune deletes the expired points but no data at all, since the damaged
point may need any of it. A damaged index segment is named and skipped, its packs indexed again.

Killed at any point, the vault stays consistent: points go before the data they referenced is
touched; new index segments are written before old ones are superseded; a pack is deleted only
after no index segment in force names it. The next prune finishes the work.

Prune also removes the stale locks (of processes that are gone: the rules in vault/locks.py),
once it holds its exclusive lock: no live lock can be there then. A dry run removes none.

A local vault also loses, at the end, the temp files of writes a killed process never finished
(`.tmp-*` beside the blobs), once they are an hour old: no write in progress is that stale.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cairn.core.errors import BlobNotFound, CairnError, DamageFound
from cairn.core.events import Progress, Reporter
from cairn.engine.fullvault import ExpiredPointsFirst
from cairn.engine.reach import reach
from cairn.policy import PointFacts, Policy, expired
from cairn.storage.local import LocalBlobStore
from cairn.vault.index import Index, Location
from cairn.vault.packs import PackEntry, PackInfo
from cairn.vault.points import RecoveryPoint
from cairn.vault.repository import Repository

DEFAULT_GRACE = timedelta(hours=24)
TEMP_FILE_AGE = timedelta(hours=1)
REPACK_UNUSED_SHARE = 0.5
PACKS_PER_SEGMENT = 256


@dataclass
class PruneResult:
    points_deleted: list[str] = field(default_factory=list)
    points_kept: int = 0
    packs_deleted: int = 0
    packs_repacked: int = 0
    packs_waiting: int = 0
    bytes_reclaimed: int = 0
    bytes_waiting: int = 0
    temp_files_removed: int = 0
    temp_bytes_removed: int = 0
    stale_locks_removed: int = 0
    dry_run: bool = False


def mark(
    repo: Repository, index: Index, points: Iterable[RecoveryPoint], reporter: Reporter
) -> set[bytes]:
    """Every blob the points reach. If one is missing, DamageFound (nothing is deleted) unless
    every point lacking data is marked damaged by `cairn repair`: those are named and what they
    still reach is kept."""
    used, lacking_points = reach(repo, index, points)
    if not lacking_points:
        return used
    damaged = repo.damaged_points()
    unmarked = [p.id[:8] for p in lacking_points if p.id not in damaged]
    if unmarked:
        raise DamageFound(
            f"prune stopped, deleting nothing: recovery point(s) {', '.join(unmarked[:10])} need"
            " data that is missing. Run `cairn check` to see what, then `cairn repair` to mark"
            " them damaged (the next backup uploads what it still finds)"
        )
    for p in lacking_points:
        reporter.warn(
            "", f"recovery point {p.id[:8]} is damaged (lost data): what it still has is kept"
        )
    return used


def _owners(
    index: Index, used: set[bytes], listing: dict[str, int], first_seen: dict[str, datetime]
) -> dict[bytes, str]:
    """The one pack each used blob is kept in. A blob may sit in several packs (two workers met
    it at once; a repack copied it): packs no prune has marked unreferenced are preferred, so a
    repacked pack's blobs belong to their new copy and the old pack can go."""
    order = sorted((p for p in index.packs if p in listing), key=lambda p: (p in first_seen, p))
    owner: dict[bytes, str] = {}
    for pack_id in order:
        for e in index.packs[pack_id].entries:
            if e.blob_id in used and e.blob_id not in owner:
                owner[e.blob_id] = pack_id
    return owner


def _repack(
    repo: Repository, index: Index, packs: list[PackInfo], owner: dict[bytes, str]
) -> list[PackInfo]:
    """Copy the blobs `packs` own into new packs; returns the new packs (already indexed)."""
    writer = repo.pack_writer()
    new: list[PackInfo] = []
    for pack in packs:
        data = repo.store.get(repo.layout.pack(pack.pack_id))
        view = memoryview(data)
        for e in pack.entries:
            if owner.get(e.blob_id) != pack.pack_id:
                continue
            here = Location(pack.pack_id, pack.session_id, e.kind, e.offset, e.length, e.raw_length)
            plain = repo.open_blob(here, e.blob_id, view[e.offset : e.offset + e.length])
            info = writer.add(e.kind, e.blob_id, plain)
            owner[e.blob_id] = ""  # copied: never twice
            if info is not None:
                new.append(info)
    info = writer.flush()
    if info is not None:
        new.append(info)
    if new:
        repo.write_segment(new)
    return new


def prune(
    repo: Repository,
    expired: set[str],
    *,
    now: datetime,
    grace: timedelta = DEFAULT_GRACE,
    dry_run: bool = False,
    reporter: Reporter | None = None,
) -> PruneResult:
    """Delete the recovery points named in `expired`, then the data no remaining point uses."""
    reporter = reporter or Reporter()
    result = PruneResult(dry_run=dry_run)
    room = None if dry_run else ExpiredPointsFirst(repo, expired)  # for a full vault
    with repo.locks.acquire(exclusive=True, purpose="prune", make_room=room):
        if not dry_run:
            # Holding the exclusive lock, prune knows no live lock is there: the others are of
            # processes that are gone (the rules of vault/locks.py), and only pile up.
            result.stale_locks_removed = repo.locks.remove_stale()
        reporter.progress(Progress("prune: mark"))
        index = repo.load_index(on_damage=reporter.warn)
        listing = repo.confirm_packs(repo.list_packs(), index.packs)
        # A pack no segment names may still hold data a point needs (a backup dropped it from
        # the index when a listing missed it): it is indexed again, never deleted as unused.
        repo.recover_packs(index, listing, write=not dry_run)
        points = repo.list_points(on_damage=reporter.warn)
        unreadable = list(repo.unreadable_points)
        keep = [p for p in points if p.id not in expired]
        gone = [p for p in points if p.id in expired]
        used = mark(repo, index, keep, reporter)
        # Packs the mark found by listing again (engine/reach.py, `Repository.locate`).
        listing = repo.confirm_packs(listing, index.packs)
        result.points_kept = len(keep)
        result.points_deleted = [p.id for p in gone] + (room.deleted if room else [])
        if unreadable:
            # A point that does not open may need any blob: no data is deleted while it exists.
            reporter.warn(
                "",
                f"{len(unreadable)} recovery point(s) do not open"
                f" ({', '.join(p[:16] for p in unreadable[:10])}): prune deletes expired points"
                " but no data until they are removed (after `cairn check` names them)",
            )
            if not dry_run:
                reporter.stop_if_cancelled()
                _delete_points(repo, gone)
            return result

        # A used blob is missing only when no copy of it is stored (a segment a listing missed
        # may still name a pack an earlier prune deleted, beside the copy in force).
        gone_packs = {
            loc.pack_id
            for b in used
            if (loc := index.get(b)) is not None
            and not any(c.pack_id in listing for c in index.copies(b))
        }
        if gone_packs:
            raise DamageFound(
                f"prune stopped, deleting nothing: {len(gone_packs)} pack(s) holding data the"
                " recovery points need are missing. Run `cairn check`, then `cairn repair`"
            )
        state_ids, first_seen = repo.read_prune_state(on_damage=reporter.warn)
        owner = _owners(index, used, listing, first_seen)
        unused_share: dict[str, float] = {}
        for pack_id, pack in index.packs.items():
            if pack_id not in listing:
                continue
            total = sum(e.length for e in pack.entries) or 1
            live = sum(e.length for e in pack.entries if owner.get(e.blob_id) == pack_id)
            unused_share[pack_id] = 1 - live / total
        to_repack = [
            index.packs[p]
            for p, share in unused_share.items()
            if REPACK_UNUSED_SHARE <= share < 1.0
        ]
        if dry_run:
            _report_dry(result, listing, unused_share, to_repack, first_seen, now, grace)
            return result
        reporter.stop_if_cancelled()  # the last safe point: nothing is deleted yet

        _delete_points(repo, gone)

        new_packs = _repack(repo, index, to_repack, owner) if to_repack else []
        for info in new_packs:
            index.add_pack(info)
        result.packs_repacked = len(to_repack)
        repacked = {p.pack_id for p in to_repack}

        # Unreferenced now: wholly unused indexed packs, repacked ones, and packs no index names.
        unreferenced_now = {p for p in listing if p in repacked or unused_share.get(p, 1.0) >= 1.0}
        deletable = {
            p for p in unreferenced_now if p in first_seen and now - first_seen[p] >= grace
        }
        deletable -= _copies_needed(repo, index, deletable, used, owner, reporter)
        waiting = {p: first_seen.get(p, now) for p in unreferenced_now - deletable}
        repo.write_prune_state(waiting, now)

        # The index in force must not name a pack about to be deleted: write the new segments,
        # then one that supersedes every segment there was before them.
        before = sorted(set(repo.list_segments()))
        present = listing.keys() | {p.pack_id for p in new_packs}
        remaining = [
            info for pid, info in index.packs.items() if pid in present and pid not in deletable
        ]
        for start in range(0, len(remaining), PACKS_PER_SEGMENT):
            repo.write_segment(remaining[start : start + PACKS_PER_SEGMENT])
        superseded = before
        repo.write_segment([], superseded=superseded)
        for seg in superseded:
            try:
                repo.store.delete(repo.layout.index(seg))
            except BlobNotFound:
                pass
        if repo.memory is not None:
            repo.memory.segments_removed(superseded)  # in force again later: a replay

        for pack_id in sorted(deletable):
            try:
                repo.store.delete(repo.layout.pack(pack_id))
            except BlobNotFound:
                continue
            result.packs_deleted += 1
            result.bytes_reclaimed += listing[pack_id]
        for sid in state_ids:
            try:
                repo.store.delete(repo.layout.prune_state(sid))
            except CairnError:
                pass
        result.packs_waiting = len(waiting)
        result.bytes_waiting = sum(listing[p] for p in waiting)
        if isinstance(repo.store, LocalBlobStore):
            cutoff = (now - TEMP_FILE_AGE).timestamp()
            result.temp_files_removed, result.temp_bytes_removed = repo.store.sweep_temporaries(
                cutoff
            )
    return result


def _copies_needed(
    repo: Repository,
    index: Index,
    deletable: set[str],
    used: set[bytes],
    owner: dict[bytes, str],
    reporter: Reporter,
) -> set[str]:
    """The deletable packs that hold a copy of a used blob whose kept copy does not read back:
    they are kept (and the damaged copy named), so prune never deletes the last intact copy."""
    keep: set[str] = set()
    verified: dict[bytes, bool] = {}
    entries_of: dict[str, dict[bytes, PackEntry]] = {}
    for pack_id in sorted(deletable):
        indexed = index.packs.get(pack_id)  # a damaged pack no index names holds no copy
        for e in indexed.entries if indexed is not None else ():
            kept_in = owner.get(e.blob_id, "")
            if e.blob_id not in used or kept_in in ("", pack_id):
                continue  # unused, or copied by this run's repack (verified before upload)
            if e.blob_id not in verified:
                pack = index.packs[kept_in]
                if kept_in not in entries_of:
                    entries_of[kept_in] = {x.blob_id: x for x in pack.entries}
                x = entries_of[kept_in][e.blob_id]
                loc = Location(kept_in, pack.session_id, x.kind, x.offset, x.length, x.raw_length)
                try:
                    sealed = repo.store.get(repo.layout.pack(kept_in), loc.offset, loc.length)
                    repo.open_blob(loc, e.blob_id, sealed)
                    verified[e.blob_id] = True
                except CairnError as err:
                    verified[e.blob_id] = False
                    reporter.warn(
                        "",
                        f"pack {kept_in[:16]}: blob {e.blob_id.hex()[:16]} is damaged ({err});"
                        f" pack {pack_id[:16]} holds another copy and is kept. Run `cairn check"
                        " --read-data`",
                    )
            if not verified[e.blob_id]:
                keep.add(pack_id)
    return keep


def _delete_points(repo: Repository, gone: list[RecoveryPoint]) -> None:
    if repo.memory is not None:
        repo.memory.deleted(p.id for p in gone)  # first: check must not report them as vanished
    for p in gone:
        try:
            repo.store.delete(repo.layout.point(p.id))
        except BlobNotFound:
            pass
    if repo.memory is not None:
        repo.memory.removed(p.id for p in gone)  # back in the vault later: a replay


def _report_dry(
    result: PruneResult,
    listing: dict[str, int],
    unused_share: dict[str, float],
    to_repack: list[PackInfo],
    first_seen: dict[str, datetime],
    now: datetime,
    grace: timedelta,
) -> None:
    repacked = {p.pack_id for p in to_repack}
    unreferenced = {p for p in listing if p in repacked or unused_share.get(p, 1.0) >= 1.0}
    deletable = {p for p in unreferenced if p in first_seen and now - first_seen[p] >= grace}
    result.packs_repacked = len(to_repack)
    result.packs_deleted = len(deletable)
    result.bytes_reclaimed = sum(listing[p] for p in deletable)
    result.packs_waiting = len(unreferenced - deletable)
    result.bytes_waiting = sum(listing[p] for p in unreferenced - deletable)


def expired_by_policy(points: list[RecoveryPoint], policy: Policy, now: datetime) -> set[str]:
    """The recovery points whose expiry, derived from their facts and `policy`, has passed."""

    def facts(p: RecoveryPoint) -> PointFacts:
        return PointFacts.from_record(p.time, p.trigger, p.slot, p.substitutes, p.retain_until)

    return {p.id for p in expired(points, policy, now, facts=facts)}
