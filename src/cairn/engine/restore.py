"""Restore files and folders from a recovery point, all or selected paths, to the original place or
under a target folder.

Planning (folders, names, conflicts, what the vault may not make us do) is `restore_plan.py`; this
module writes the files it lists, opened with O_EXCL|O_NOFOLLOW under fresh names. Data is
read pack by pack on a few threads (zstd and the disk release the GIL); each blob is authenticated and
its keyed hash checked before a byte of it is written. A file whose data is damaged is removed and
reported by path (exit 14), never left silently wrong. Every file is written under a temporary
name in its folder (`.cairn-restore-<pid>-<random>`, O_EXCL, mode 0600) and renamed to its real
name (over the old file, for `overwrite`) only when whole and its metadata set, so a restore killed
at any moment (kill -9, SIGTERM, a crash) leaves no half file under a real name; the next restore
removes the temporaries a dead one left in the folders it visits.
"""

from __future__ import annotations

import errno
import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

from cairn.core.errors import BlobNotFound, CairnError, IntegrityError, NoSpace, UsageError
from cairn.core.events import Reporter
from cairn.engine.listing import find_node
from cairn.engine.restore_plan import (
    CONFLICTS,
    PlannedFile,
    Planner,
    RestoreOptions,
    RestoreResult,
)
from cairn.fs.metadata import apply_metadata_fd
from cairn.fs.safety import create_new, remove_stale_temps
from cairn.storage.throttled import current_limit_bps
from cairn.vault.index import Location
from cairn.vault.points import RecoveryPoint
from cairn.vault.repository import Repository
from cairn.vault.tree import Node

__all__ = ["CONFLICTS", "RestoreOptions", "RestoreResult", "restore"]

RANGED_READ_BELOW = 0.25


def _outermost(paths: list[str]) -> list[str]:
    """Selected paths without repeats or paths inside another selected one."""
    norm = sorted({"/" + "/".join(p for p in path.split("/") if p) for path in paths})
    out: list[str] = []
    for p in norm:
        if not any(p == q or q == "/" or p.startswith(q + "/") for q in out):
            out.append(p)
    return out


def _reopen(path: bytes) -> int:
    """Open a file this restore created, to write more of it (never through a symlink)."""
    return os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)


def _all_zero(data: bytes) -> bool:
    """Whether a chunk holds only zero bytes (checked cheaply at its ends first)."""
    return data[:1] == b"\0" and data[-1:] == b"\0" and data.count(0) == len(data)


class _Restorer(Planner):
    """Writes what the planner listed, pack by pack, then links, damage and folder metadata."""

    def complete(self, f: PlannedFile) -> None:
        """All chunks written (or the file is damaged): metadata, close, rename into place."""
        if f.damaged:
            if f.fd >= 0:
                os.close(f.fd)
                f.fd = -1
            try:
                os.unlink(f.write_to)
            except FileNotFoundError:
                pass
            return
        if f.fd < 0:
            f.fd = _reopen(f.write_to) if f.created else create_new(f.write_to)
        node = f.node
        try:
            os.ftruncate(f.fd, f.length)  # the length, holes at the end included
            problems = apply_metadata_fd(f.fd, f.dest, **self.metadata(node, f.dest))
        finally:
            os.close(f.fd)
            f.fd = -1
        os.rename(f.write_to, f.dest)
        for w in problems:
            self.reporter.warn(os.fsdecode(f.dest), w)
        with self.lock:
            self.result.files += 1
            self.result.bytes += node.size
            self.progress.files_done += 1

    def write_chunk(
        self, f: PlannedFile, offset: int, data: bytes | None, problem: str = ""
    ) -> None:
        with f.lock:
            if data is None:
                f.damaged = True
                f.problem = f.problem or problem
            elif not f.damaged and not _all_zero(data):
                # An all-zero chunk is left as a hole (complete() sets the length), so a sparse
                # file is restored sparse.
                if f.fd < 0:
                    f.fd = _reopen(f.write_to) if f.created else create_new(f.write_to)
                    f.created = True
                view = memoryview(data)
                while view:
                    n = os.pwrite(f.fd, view, offset)
                    view = view[n:]
                    offset += n
            f.chunks_left -= 1
            if f.chunks_left == 0:
                self.complete(f)
            elif f.fd >= 0:
                # Packs come in no order of files: keep no descriptor open between chunks, or a
                # restore of many large files runs out of them.
                os.close(f.fd)
                f.fd = -1

    def restore_pack(
        self, pack_id: str, needs: list[tuple[bytes, Location, list[tuple[PlannedFile, int]]]]
    ) -> None:
        name = self.repo.layout.pack(pack_id)
        wanted = sum(loc.length for _, loc, _ in needs)
        data: bytes | None = None
        size = max(loc.offset + loc.length for _, loc, _ in needs)
        if wanted >= RANGED_READ_BELOW * size:
            try:
                data = self.repo.store.get(name, 0, size)
            except CairnError:
                data = None
        for blob_id, loc, users in sorted(needs, key=lambda n: n[1].offset):
            plain: bytes | None
            problem = ""
            try:
                if data is not None:
                    sealed: bytes | memoryview = memoryview(data)[
                        loc.offset : loc.offset + loc.length
                    ]
                else:
                    sealed = self.repo.store.get(name, loc.offset, loc.length)
                plain = self.repo.open_blob(loc, blob_id, sealed)
            except (IntegrityError, BlobNotFound) as e:
                try:  # another copy of the chunk, if the index knows one
                    plain = self.repo.read_other_copy(self.index, blob_id, loc, e)
                except (IntegrityError, BlobNotFound):
                    plain = None  # damaged or missing in the vault: reported by file path
                    problem = f"chunk {blob_id.hex()[:16]} in pack {pack_id[:16]}: {e}"
            for f, offset in users:
                self.write_chunk(f, offset, plain, problem)
            with self.lock:
                self.progress.bytes_done += loc.raw_length * len(users)

    def restore_data(self) -> None:
        by_pack: dict[str, dict[bytes, tuple[Location, list[tuple[PlannedFile, int]]]]] = (
            defaultdict(dict)
        )
        for f in self.files:
            if not f.node.content:
                self.complete(f)
                continue
            offset = 0
            for cid in f.node.content:
                loc = self.repo.locate(self.index, cid)
                if loc is None:
                    with f.lock:
                        f.damaged = True
                        f.problem = f.problem or f"chunk {cid.hex()[:16]} is not in the index"
                        f.chunks_left -= 1
                        if f.chunks_left == 0:
                            self.complete(f)
                    continue
                slot = by_pack[loc.pack_id].get(cid)
                if slot is None:
                    slot = by_pack[loc.pack_id][cid] = (loc, [])
                slot[1].append((f, offset))
                offset += loc.raw_length
            f.length = offset
        jobs = [
            (pid, [(cid, loc, users) for cid, (loc, users) in blobs.items()])
            for pid, blobs in sorted(by_pack.items())
        ]
        pool = ThreadPoolExecutor(max(1, self.options.workers))
        try:
            for fut in [pool.submit(self.restore_pack, pid, needs) for pid, needs in jobs]:
                fut.result()
                self.progress.limit_bps = current_limit_bps(self.repo.store)
                self.reporter.progress(self.progress)
                self.reporter.stop_if_cancelled()
        except BaseException:
            # Stop at once (Ctrl-C, a full disk, a storage failure); leave no half file behind.
            pool.shutdown(wait=True, cancel_futures=True)
            self.abandon()
            raise
        pool.shutdown(wait=True)

    def abandon(self) -> None:
        for f in self.files:
            if f.fd >= 0:
                os.close(f.fd)
                f.fd = -1
            if f.chunks_left > 0 and f.created:
                try:
                    os.unlink(f.write_to)
                except OSError:
                    pass

    def run(self, selections: list[tuple[list[bytes], Node]], dest_root: bytes) -> RestoreResult:
        self.progress.files_total = 0
        remove_stale_temps(dest_root)
        for parts, node in selections:
            self.plan(parts, node, dest_root)
        self.progress.files_total = len(self.files)
        self.reporter.progress(self.progress)
        self.restore_data()
        for dest, first, _node in self.link_followers:
            if first.damaged:
                self.result.damaged.append(os.fsdecode(dest))
                continue
            if os.path.lexists(dest):
                os.unlink(dest)
            os.link(first.dest, dest)
            self.result.files += 1
        for f in self.files:
            if f.damaged:
                self.result.damaged.append(os.fsdecode(f.dest))
                self.reporter.warn(os.fsdecode(f.dest), f"not restored: {f.problem}")
        for path, dnode in reversed(self.dirs):
            self.finish_metadata(path, dnode)
            self.result.dirs += 1
        self.special.report(self.reporter)
        return self.result


def restore(
    repo: Repository,
    point: RecoveryPoint,
    options: RestoreOptions,
    reporter: Reporter | None = None,
) -> RestoreResult:
    reporter = reporter or Reporter()
    if options.conflict not in CONFLICTS:
        raise UsageError(f"--conflict must be one of {', '.join(CONFLICTS)}")
    if options.target is not None:
        dest_root = os.fsencode(os.path.abspath(options.target))
        try:
            os.makedirs(dest_root, exist_ok=True)
        except OSError as e:
            raise UsageError(f"cannot create the target {options.target}: {e.strerror}") from None
    else:
        dest_root = b"/"
    with repo.locks.acquire(exclusive=False, purpose="restore", reading=reporter.warn):
        index = repo.load_index()
        paths = _outermost(options.paths or ["/"])
        selections = [find_node(repo, index, point.tree, p) for p in paths]
        try:
            result = _Restorer(repo, index, point, options, reporter).run(selections, dest_root)
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EDQUOT):
                raise NoSpace(
                    f"the restore target {os.fsdecode(dest_root)} is full: free space there"
                ) from None
            raise CairnError(f"restore failed: {e}") from None
    return result
