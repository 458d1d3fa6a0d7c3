"""Restore files and folders from a recovery point, all or selected paths, to the original place or
under a target folder.

The vault is untrusted: every name is checked (no `..`, no `/`, no NUL), every folder is created or
found as a real directory (a planted symlink is refused), and files are opened with O_NOFOLLOW. Data is
read pack by pack on a few threads (zstd and the disk release the GIL); each blob is authenticated and
its keyed hash checked before a byte of it is written. A file whose data is damaged is removed and
reported by path (exit 14), never left silently wrong. When `overwrite` replaces an existing file,
the new copy is written beside it and renamed over it only when complete.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from cairn.core.errors import (
    BlobNotFound,
    CairnError,
    IntegrityError,
    NoSpace,
    UnsafePath,
    UsageError,
)
from cairn.core.events import Progress, Reporter
from cairn.engine.listing import find_node
from cairn.fs.conflict import copy_name
from cairn.fs.metadata import apply_metadata, apply_metadata_fd, create_special
from cairn.fs.safety import check_name, create_new
from cairn.storage.throttled import current_limit_bps
from cairn.vault.index import Index, Location
from cairn.vault.points import RecoveryPoint
from cairn.vault.repository import Repository
from cairn.vault.tree import Node

CONFLICTS = ("copy", "overwrite", "skip")
RANGED_READ_BELOW = 0.25


@dataclass
class RestoreOptions:
    paths: list[str] = field(default_factory=list)
    target: str | None = None
    conflict: str = "copy"
    workers: int = 2


@dataclass
class RestoreResult:
    files: int = 0
    dirs: int = 0
    bytes: int = 0
    skipped: int = 0
    damaged: list[str] = field(default_factory=list)


@dataclass
class _File:
    node: Node
    dest: bytes
    write_to: bytes
    chunks_left: int = 0
    fd: int = -1
    created: bool = False
    damaged: bool = False
    problem: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)


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


class _Restorer:
    def __init__(
        self,
        repo: Repository,
        index: Index,
        point: RecoveryPoint,
        options: RestoreOptions,
        reporter: Reporter,
    ) -> None:
        self.repo = repo
        self.index = index
        self.point = point
        self.options = options
        self.reporter = reporter
        self.when = point.time.astimezone()
        self.set_owner = os.geteuid() == 0
        self.result = RestoreResult()
        self.files: list[_File] = []
        self.dirs: list[tuple[bytes, Node]] = []
        self.links: dict[tuple[int, int], _File] = {}
        self.link_followers: list[tuple[bytes, _File, Node]] = []
        self.lock = threading.Lock()
        self.fresh: set[bytes] = set()
        self.progress = Progress("restore")
        self.item_ancestors = set()
        for p in point.paths:
            parts = [x for x in os.fsencode(p).split(b"/") if x]
            for i in range(len(parts)):
                self.item_ancestors.add(b"/".join(parts[:i]))

    # --- planning: folders, names and conflicts --------------------------------------------------

    def ensure_dir(self, path: bytes, rel: bytes) -> bool:
        """Make `path` a real directory; False if it must be skipped."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            os.mkdir(path, 0o700)
            self.fresh.add(path)
            return True
        if stat.S_ISDIR(st.st_mode):
            return True
        ancestor = self.options.target is None and rel in self.item_ancestors
        if stat.S_ISLNK(st.st_mode) and ancestor and os.path.isdir(path):
            return True  # the machine's own symlinked folder above an item (/home -> /data/home)
        if stat.S_ISLNK(st.st_mode):
            raise CairnError(
                f"{os.fsdecode(path)} is a symlink where the recovery point has a folder: refusing to"
                " restore through it; move it away and restore again"
            )
        self.reporter.warn(os.fsdecode(path), "a file is in the way of a folder: skipped")
        return False

    def place(self, directory: bytes, node: Node) -> bytes | None:
        """The path a file, link or special file is written to; None to skip it."""
        check_name(node.name)
        dest = os.path.join(directory, node.name)
        if directory in self.fresh:
            return dest  # a folder this restore made holds nothing it did not put there
        try:
            st = os.lstat(dest)
        except FileNotFoundError:
            return dest
        if self.options.conflict == "skip":
            self.result.skipped += 1
            return None
        if self.options.conflict == "copy":
            return os.path.join(directory, copy_name(directory, node.name, self.when))
        if stat.S_ISDIR(st.st_mode):
            self.reporter.warn(os.fsdecode(dest), "a folder is in the way of a file: skipped")
            return None
        return dest

    def plan(self, parts: list[bytes], node: Node, dest_root: bytes) -> None:
        directory = dest_root
        rel = b""
        for p in parts[:-1]:
            check_name(p)
            directory = os.path.join(directory, p)
            rel = rel + b"/" + p if rel else p
            if not self.ensure_dir(directory, rel):
                return
        if node.kind == "dir":
            if parts:
                check_name(parts[-1])
                directory = os.path.join(directory, parts[-1])
                rel = rel + b"/" + parts[-1] if rel else parts[-1]
                if not self.ensure_dir(directory, rel):
                    return
                self.dirs.append((directory, node))
            self.plan_dir(node, directory, rel)
        else:
            self.plan_leaf(node, directory)

    def plan_dir(self, node: Node, directory: bytes, rel: bytes) -> None:
        assert node.subtree is not None
        children = self.repo.load_tree(self.index, node.subtree)
        if len({c.name for c in children}) != len(children):
            raise UnsafePath(
                f"the recovery point names one entry twice in {os.fsdecode(directory)}: the vault"
                " is damaged or hostile"
            )
        for child in children:
            check_name(child.name)
            if child.kind == "dir":
                sub = os.path.join(directory, child.name)
                sub_rel = rel + b"/" + child.name if rel else child.name
                if self.ensure_dir(sub, sub_rel):
                    self.dirs.append((sub, child))
                    self.plan_dir(child, sub, sub_rel)
            else:
                self.plan_leaf(child, directory)

    def plan_leaf(self, node: Node, directory: bytes) -> None:
        dest = self.place(directory, node)
        if dest is None:
            return
        if node.kind == "file":
            key = (node.dev, node.inode)
            if node.nlink > 1 and key in self.links:
                self.link_followers.append((dest, self.links[key], node))
                return
            write_to = dest
            if directory not in self.fresh and os.path.lexists(dest):
                # overwrite: write beside, rename over the old one when complete
                write_to = os.path.join(
                    directory, b".cairn-restore-" + secrets.token_hex(6).encode()
                )
            f = _File(node, dest, write_to, chunks_left=len(node.content))
            self.files.append(f)
            if node.nlink > 1:
                self.links[key] = f
            self.progress.bytes_total = (self.progress.bytes_total or 0) + node.size
            return
        if directory not in self.fresh and os.path.lexists(dest):
            os.unlink(dest)
        if node.kind == "symlink":
            if node.target is None:
                self.reporter.warn(os.fsdecode(dest), "the symlink has no target: skipped")
                return
            os.symlink(node.target, dest)
        elif node.kind == "socket":
            self.reporter.warn(
                os.fsdecode(dest), "a socket is not restored (it is made by its server)"
            )
            return
        else:
            try:
                create_special(dest, node.kind, node.mode, node.rdev)  # type: ignore[arg-type]
            except (OSError, ValueError) as e:
                self.reporter.warn(os.fsdecode(dest), f"cannot create {node.kind}: {e}")
                return
        self.finish_metadata(dest, node)

    # --- data ------------------------------------------------------------------------------------

    def metadata(self, node: Node) -> dict[str, Any]:
        """What the fs layer's metadata appliers take, from a tree entry."""
        return {
            "mode": node.mode,
            "mtime_ns": node.mtime_ns,
            "uid": node.uid,
            "gid": node.gid,
            "user": node.user,
            "group": node.group,
            "xattrs": node.xattrs,
            "set_owner": self.set_owner,
        }

    def finish_metadata(self, path: bytes, node: Node) -> None:
        for w in apply_metadata(path, kind=node.kind, **self.metadata(node)):  # type: ignore[arg-type]
            self.reporter.warn(os.fsdecode(path), w)

    def complete(self, f: _File) -> None:
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
            problems = apply_metadata_fd(f.fd, f.dest, **self.metadata(node))
        finally:
            os.close(f.fd)
            f.fd = -1
        if f.write_to != f.dest:
            os.rename(f.write_to, f.dest)
        for w in problems:
            self.reporter.warn(os.fsdecode(f.dest), w)
        with self.lock:
            self.result.files += 1
            self.result.bytes += node.size
            self.progress.files_done += 1

    def write_chunk(self, f: _File, offset: int, data: bytes | None, problem: str = "") -> None:
        with f.lock:
            if data is None:
                f.damaged = True
                f.problem = f.problem or problem
            elif not f.damaged:
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
        self, pack_id: str, needs: list[tuple[bytes, Location, list[tuple[_File, int]]]]
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
                plain = None  # damaged or missing in the vault: reported by file path
                problem = f"chunk {blob_id.hex()[:16]} in pack {pack_id[:16]}: {e}"
            for f, offset in users:
                self.write_chunk(f, offset, plain, problem)
            with self.lock:
                self.progress.bytes_done += loc.raw_length * len(users)

    def restore_data(self) -> None:
        by_pack: dict[str, dict[bytes, tuple[Location, list[tuple[_File, int]]]]] = defaultdict(
            dict
        )
        for f in self.files:
            if not f.node.content:
                self.complete(f)
                continue
            offset = 0
            for cid in f.node.content:
                loc = self.index.get(cid)
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
