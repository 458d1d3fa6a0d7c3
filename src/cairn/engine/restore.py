"""Restore files and folders from a recovery point, all or selected paths, to the original place or
under a target folder.

Planning (folders, names, conflicts, what the vault may not make us do) is `restore_plan.py`; this
module writes the files it lists, opened with O_EXCL|O_NOFOLLOW under fresh names, each relative
to its folder's descriptor (`fs/folders.py`: no path a local user could swap is resolved). Data is
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
from collections.abc import Iterator
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
    changed_guard,
)
from cairn.engine.restore_target import check_target
from cairn.fs.folders import Folder, Folders
from cairn.fs.metadata import apply_metadata_fd
from cairn.fs.safety import create_new, remove_stale_temps
from cairn.storage.throttled import current_limit_bps
from cairn.vault.index import Location
from cairn.vault.packs import DATA
from cairn.vault.points import RecoveryPoint
from cairn.vault.repository import Repository
from cairn.vault.tree import Node

__all__ = ["CONFLICTS", "RestoreOptions", "RestoreResult", "restore"]

RANGED_READ_BELOW = 0.25
HOLE_BLOCK = 4096  # the file system's block: a block of zeros this size, so aligned, is a hole
_ZEROS = bytes(HOLE_BLOCK)


def _outermost(paths: list[str]) -> list[str]:
    """Selected paths without repeats or paths inside another selected one."""
    norm = sorted({"/" + "/".join(p for p in path.split("/") if p) for path in paths})
    out: list[str] = []
    for p in norm:
        if not any(p == q or q == "/" or p.startswith(q + "/") for q in out):
            out.append(p)
    return out


def _all_zero(data: bytes) -> bool:
    """Whether a chunk holds only zero bytes (checked cheaply at its ends first)."""
    return data[:1] == b"\0" and data[-1:] == b"\0" and data.count(0) == len(data)


def _data_runs(data: bytes, offset: int) -> Iterator[tuple[int, memoryview]]:
    """What of a chunk to write at `offset` in its file: all of it, less the blocks of zeros
    aligned on the file's HOLE_BLOCK boundaries, which are left as holes. (A chunk mixing data
    and zeros is common in a sparse file: the chunker cuts a run of zeros only at its largest
    chunk size, so one chunk can hold the end of some data and megabytes of zeros.)"""
    view = memoryview(data)
    if data.find(_ZEROS) < 0:  # most chunks: no block of zeros at all, aligned or not
        yield offset, view
        return
    run = -1  # where in `data` the bytes to write begin, -1 in a hole
    pos = 0
    while pos < len(data):
        end = min(len(data), pos + HOLE_BLOCK - (offset + pos) % HOLE_BLOCK)
        hole = end - pos == HOLE_BLOCK and view[pos:end] == _ZEROS
        if hole and run >= 0:
            yield offset + run, view[run:pos]
            run = -1
        elif not hole and run < 0:
            run = pos
        pos = end
    if run >= 0:
        yield offset + run, view[run:]


class _Restorer(Planner):
    """Writes what the planner listed, pack by pack, then links, damage and folder metadata."""

    def open_file(self, f: PlannedFile) -> None:
        """Open (the first time: create) the file's temporary, relative to its folder."""
        with self.folders.held(f.folder) as dfd, changed_guard(f.shown):
            if f.created:
                f.fd = os.open(f.temp, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
            else:
                f.fd = create_new(f.temp, dfd)
                f.created = True

    def complete(self, f: PlannedFile) -> None:
        """All chunks written (or the file is damaged): metadata, close, rename into place."""
        if f.damaged:
            if f.fd >= 0:
                os.close(f.fd)
                f.fd = -1
            if f.created:
                with self.folders.held(f.folder) as dfd:
                    try:
                        os.unlink(f.temp, dir_fd=dfd)
                    except FileNotFoundError:
                        pass
            return
        if f.fd < 0:
            self.open_file(f)
        node = f.node
        try:
            os.ftruncate(f.fd, f.length)  # the length, holes at the end included
            problems = apply_metadata_fd(f.fd, os.fsencode(f.shown), **self.metadata(node, f.shown))
        finally:
            os.close(f.fd)
            f.fd = -1
        with self.folders.held(f.folder) as dfd, changed_guard(f.shown):
            os.rename(f.temp, f.name, src_dir_fd=dfd, dst_dir_fd=dfd)
        for w in problems:
            self.reporter.warn(f.shown, w)
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
                # An all-zero chunk, and every aligned block of zeros in a chunk, is left as a
                # hole (complete() sets the length), so a sparse file is restored sparse.
                if f.fd < 0:
                    self.open_file(f)
                for at, view in _data_runs(data, offset):
                    while view:
                        n = os.pwrite(f.fd, view, at)
                        view = view[n:]
                        at += n
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
                if loc is None or loc.kind != DATA:
                    # A tree offered as file data (type confusion) is damage too, never written.
                    what = "is not in the index" if loc is None else "is a folder listing, not data"
                    with f.lock:
                        f.damaged = True
                        f.problem = f.problem or f"chunk {cid.hex()[:16]} {what}"
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
                    with self.folders.held(f.folder) as dfd:
                        os.unlink(f.temp, dir_fd=dfd)
                except (OSError, CairnError):
                    pass

    def link(self, folder: Folder, name: bytes, first: PlannedFile) -> None:
        """Make `name` in `folder` a hard link to the file `first` restored."""
        held = self.folders.held
        with held(first.folder) as src, held(folder) as dst, changed_guard(folder.path(name)):
            try:
                os.unlink(name, dir_fd=dst)
            except FileNotFoundError:
                pass
            os.link(first.name, name, src_dir_fd=src, dst_dir_fd=dst, follow_symlinks=False)

    def run(self, selections: list[tuple[list[bytes], Node]], dest_root: bytes) -> RestoreResult:
        self.folders = Folders(dest_root)
        try:
            return self.run_in(selections)
        finally:
            self.folders.close()

    def run_in(self, selections: list[tuple[list[bytes], Node]]) -> RestoreResult:
        self.progress.files_total = 0
        with self.folders.held(self.folders.root) as root_fd:
            remove_stale_temps(root_fd)
        for parts, node in selections:
            self.plan(parts, node)
        self.progress.files_total = len(self.files)
        self.reporter.progress(self.progress)
        self.restore_data()
        for folder, name, first, _node in self.link_followers:
            if first.damaged:
                self.result.damaged.append(folder.path(name))
                continue
            self.link(folder, name, first)
            self.result.files += 1
        for f in self.files:
            if f.damaged:
                self.result.damaged.append(f.shown)
                self.reporter.warn(f.shown, f"not restored: {f.problem}")
        for folder, dnode in reversed(self.dirs):
            self.finish_dir(folder, dnode)
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
        dest_root = os.fsencode(check_target(options.target))
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
