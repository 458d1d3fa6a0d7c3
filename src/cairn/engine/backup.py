"""Back up: walk the items, skip what has not changed, read the rest in worker processes, write
trees, the index and the recovery point, in that order.

    walk (scandir, exclusions)            parent, depth first
      -> skip unchanged files             size + mtime + ctime + inode against the previous point
      -> read, chunk, hash, dedup,        worker processes (workers.py), whole batches of files
         compress, seal, pack, upload
      -> a tree per folder                parent, as soon as everything in the folder is done
      -> index segments -> recovery point the write order of docs/format.md

It streams: a folder's tree is written as soon as its files are read and its subfolders are done,
and the walk waits while the workers' queue is full. Memory holds the folders on the current path
with their listings and the files in flight, not the whole tree, whatever the number or the size of
the files.

Source-side problems (a file that cannot be read, one that changed while read) become warnings and
the job ends "completed with warnings"; vault-side problems stop the job with the vault consistent.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import sys
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from typing import Any

from cairn import __version__
from cairn.core.errors import CairnError, Interrupted, NoSpace, UsageError
from cairn.core.events import Progress, Reporter
from cairn.core.ids import random_id
from cairn.engine.scope import Scope, item_conflicts
from cairn.engine.seen import dated_ahead, rollback_findings
from cairn.engine.snapshot import LIVE, SourceView, source_view
from cairn.engine.snapshot import PREFIX as SNAPSHOT_PREFIX
from cairn.engine.workers import FileResult, FileTask, WorkerPool, WorkerSetup
from cairn.fs.exclusions import Exclusions
from cairn.fs.metadata import owner_names, read_xattrs
from cairn.fs.walk import FsEntry, list_dir, stat_entry
from cairn.policy.snapshot import NO_SNAPSHOT, SnapshotRule
from cairn.storage.throttled import current_limit_bps
from cairn.vault.index import Index
from cairn.vault.packs import TREE, PackInfo
from cairn.vault.points import PointStats, RecoveryPoint
from cairn.vault.repository import Repository
from cairn.vault.tree import Entry, entry_name, put_bytes, stat_entry_json, xattrs_json

BATCH_BYTES = 8 << 20
BATCH_FILES = 256
SEGMENT_EVERY_PACKS = 64
REPLACED = (
    "replaced between the walk and its read (another file renamed over it): the new file's data"
    " is stored, with the mode and owner the walk saw"
)
LINK_FIELDS = ("content", "size", "mtime_ns", "ctime_ns", "inode", "xattrs", "skip")


@dataclass
class BackupOptions:
    items: list[str]
    excludes: list[str] = field(default_factory=list)
    trigger: str = "on-demand"
    slot: str | None = None
    substitutes: str | None = None
    retain_until: str | None = None
    workers: int = 2
    # A file modified this shortly before the backup started may hide a write made in the same
    # timestamp tick as its read: it is read again next time (wider than any filesystem's tick).
    racy_window_ns: int = 2_000_000_000
    snapshot: SnapshotRule = NO_SNAPSHOT  # read the items from snapshots (engine/snapshot.py)


@dataclass
class BackupResult:
    point: RecoveryPoint
    warnings: int
    duration_s: float
    # Items of a scheduled run that did not exist (the point holds the others): the job fails.
    missing_items: tuple[str, ...] = ()
    offline: dict[str, Any] | None = None
    """Set when the backup was the offline initial backup, into staging (engine/offline.py)."""
    hooks: list[dict[str, Any]] = field(default_factory=list)  # engine/hooks.py, by ondemand


@dataclass(eq=False)
class _Dir:
    """A folder being backed up: its entry, the previous point's entry and listing, its children,
    and how many of them are still in flight."""

    entry: Entry
    parent: _Dir | None
    old: Entry | None = None
    old_entries: list[Entry] | None = None
    children: list[Entry | _Dir] = field(default_factory=list)
    listed: bool = False  # filled by listing the folder (sorted), not by naming items in it
    walked: bool = False
    pending: int = 0
    tree_id: bytes | None = None


def normalize_items(items: list[str]) -> list[bytes]:
    if not items:
        raise UsageError("name at least one file or folder to back up")
    paths = sorted({os.path.normpath(os.path.abspath(os.fsencode(p))) for p in items})
    out: list[bytes] = []
    for p in paths:
        if any(p == q or p.startswith(q.rstrip(b"/") + b"/") for q in out):
            continue  # inside an item already named
        out.append(p)
    return out


def _by_name(entries: list[Entry] | None) -> dict[bytes, Entry]:
    if not entries:
        return {}
    out = {}
    for e in entries:
        try:
            out[entry_name(e)] = e
        except CairnError:
            continue
    return out


def count(items: list[bytes], excludes: Scope, progress: Progress) -> None:
    """Count the files and bytes to go through, for the progress bar's totals (a side thread)."""
    files = size = 0
    stack = list(items)
    while stack:
        path = stack.pop()
        try:
            fs = stat_entry(path)
            if fs.kind == "file":
                files += 1
                size += fs.st.st_size
            elif fs.kind == "dir":
                for child in list_dir(path):
                    if excludes.excludes(child.path, child.kind == "dir"):
                        continue
                    if child.kind == "dir":
                        if not child.name.startswith(SNAPSHOT_PREFIX):  # engine/snapshot.py
                            stack.append(child.path)
                    elif child.kind == "file":
                        files += 1
                        size += child.st.st_size
        except OSError:
            continue
    progress.files_total, progress.bytes_total = files, size


class _Backup:
    def __init__(
        self,
        repo: Repository,
        index: Index,
        excludes: Scope,
        reporter: Reporter,
        workers: int,
        racy_window_ns: int = 2_000_000_000,
        view: SourceView = LIVE,
    ) -> None:
        self.repo = repo
        self.view = view
        self.index = index
        self.excludes = excludes
        self.reporter = reporter
        self.stats = PointStats()
        self.progress = Progress("backup")
        setup = WorkerSetup(repo.store, repo.machine, repo.key, repo.config, set(index.ids()))
        self.pool = WorkerPool(setup, workers, self.handle)
        self.batch: list[FileTask] = []
        self.batch_bytes = 0
        self.batches = 0
        self.refs = 0
        self.pending: dict[int, tuple[Entry, _Dir, bytes]] = {}
        self.partly_read: dict[int, int] = {}  # ref -> bytes counted before its result came
        self.links: dict[tuple[int, int], tuple[int | None, Entry]] = {}
        self.followers: dict[int, list[tuple[Entry, _Dir]]] = {}
        self.trees = repo.pack_writer()
        self.trees_written: set[bytes] = set()
        self.unindexed: list[PackInfo] = []
        self.items_found = 0
        self.link_of: dict[int, tuple[int, int]] = {}
        # Stamps this recent may hide a write made while the file was read (see read_done).
        self.racy_after_ns = time.time_ns() - racy_window_ns

    # --- the previous recovery point ---------------------------------------------------------

    def old_listing(self, old: Entry | None) -> list[Entry] | None:
        if old is None or old.get("type") != "dir" or not isinstance(old.get("subtree"), str):
            return None
        try:
            return self.repo.load_tree_entries(self.index, bytes.fromhex(old["subtree"]))
        except (CairnError, ValueError):
            return None  # a damaged previous point only costs re-reading

    def known(self, content: object) -> bool:
        if not isinstance(content, list):
            return False
        index = self.index
        try:
            for c in content:
                if bytes.fromhex(c) not in index:
                    return False
        except (TypeError, ValueError):
            return False
        return True

    def same_file(self, fs: FsEntry, old: Entry) -> bool:
        """True if the previous point's entry already says everything lstat says: it is reused as
        it is, without building a new entry (most files of most backups)."""
        st = fs.st
        if (
            old.get("size") != st.st_size
            or old.get("mtime_ns") != st.st_mtime_ns
            or old.get("ctime_ns") != st.st_ctime_ns
            or old.get("inode") != st.st_ino
            or old.get("mode") != st.st_mode & 0o7777
            or old.get("uid") != st.st_uid
            or old.get("gid") != st.st_gid
            or old.get("dev") != self.view.dev(st.st_dev)
            or old.get("nlink") != st.st_nlink
            or old.get("type") != "file"
        ):
            return False
        user, group = owner_names(st.st_uid, st.st_gid)
        return (
            old.get("user") == user and old.get("group") == group and self.known(old.get("content"))
        )

    # --- entries -----------------------------------------------------------------------------

    def base(self, fs: FsEntry) -> Entry:
        user, group = owner_names(fs.st.st_uid, fs.st.st_gid)
        e = stat_entry_json(fs.name, fs.kind, fs.st, user, group)
        if self.view is not LIVE:
            e["dev"] = self.view.dev(fs.st.st_dev)
        return e

    def shown(self, path: bytes) -> str:
        """A path as messages name it: the live one, where a snapshot was read."""
        return os.fsdecode(self.view.live_path(path))

    def stat_item(self, live: bytes) -> FsEntry:
        """lstat an item or a folder above one where the view reads it, under its live name."""
        fs = stat_entry(self.view.read_path(live))
        return fs if self.view is LIVE else replace(fs, name=os.path.basename(live))

    def add_xattrs(self, e: Entry, fs: FsEntry) -> None:
        values, problems = read_xattrs(fs.path)
        for p in problems:
            self.reporter.warn(self.shown(fs.path), p)
        if values:
            e["xattrs"] = xattrs_json(values)

    def file_entry(self, fs: FsEntry, old: Entry | None, d: _Dir) -> Entry:
        st = fs.st
        self.stats.files += 1
        self.stats.bytes += st.st_size
        link = (st.st_dev, st.st_ino) if st.st_nlink > 1 else None
        if old is not None and link is None and self.same_file(fs, old):
            self.stats.files_unchanged += 1
            self.progress.files_done += 1
            self.progress.bytes_done += st.st_size
            return old
        e = self.base(fs)
        if (
            old is not None
            and old.get("type") == "file"
            and old.get("size") == st.st_size
            and old.get("mtime_ns") == st.st_mtime_ns
            and old.get("ctime_ns") == st.st_ctime_ns
            and old.get("inode") == st.st_ino
            and self.known(old.get("content"))
        ):
            self.stats.files_unchanged += 1
            e["content"] = old["content"]
            if "xattrs" in old:
                e["xattrs"] = old["xattrs"]
            if link is not None and link not in self.links:
                self.links[link] = (None, e)
            self.progress.files_done += 1
            self.progress.bytes_done += st.st_size
            return old if e == old else e
        if old is None:
            self.stats.files_new += 1
        else:
            self.stats.files_changed += 1
        e["content"] = []
        self.add_xattrs(e, fs)
        if link is not None and link in self.links:
            ref, first = self.links[link]
            if ref is None:
                for key in LINK_FIELDS:  # the first name of this inode is already done
                    if key in first:
                        e[key] = first[key]
                self.progress.files_done += 1
            else:
                self.followers.setdefault(ref, []).append((e, d))
                d.pending += 1
            return e
        ref = self.refs
        self.refs += 1
        if link is not None:
            self.links[link] = (ref, e)
            self.link_of[ref] = link
        self.pending[ref] = (e, d, fs.path)
        d.pending += 1
        self.batch.append(FileTask(ref, fs.path, st.st_size, st.st_ino))
        self.batch_bytes += st.st_size
        if self.batch_bytes >= BATCH_BYTES or len(self.batch) >= BATCH_FILES:
            self.flush_batch()
        return e

    def entry(self, fs: FsEntry, old: Entry | None, d: _Dir) -> Entry | _Dir:
        if fs.kind == "dir":
            return self.directory(fs, old, d)
        if fs.kind == "file":
            return self.file_entry(fs, old, d)
        e = self.base(fs)
        if fs.kind == "symlink":
            try:
                put_bytes(e, "target", os.readlink(fs.path))
            except OSError as err:
                self.reporter.warn(self.shown(fs.path), f"cannot read link: {err.strerror}")
        else:
            self.add_xattrs(e, fs)
        return old if e == old else e

    def directory(self, fs: FsEntry, old: Entry | None, parent: _Dir) -> _Dir:
        d = _Dir(self.base(fs), parent, old, self.old_listing(old), listed=True)
        parent.pending += 1
        self.add_xattrs(d.entry, fs)
        self.stats.dirs += 1
        try:
            children = list_dir(fs.path)
        except OSError as err:
            self.reporter.warn(self.shown(fs.path), f"cannot list folder: {err.strerror}")
            children = []
        before = _by_name(d.old_entries)
        self.reporter.stop_if_cancelled()
        view = self.view
        for child in children:
            if view is LIVE:
                if self.excludes.excludes(child.path, child.kind == "dir"):
                    continue
            else:
                if self.excludes.excludes(view.live_path(child.path), child.kind == "dir"):
                    continue
                seen = view.child(child)
                if seen is None:
                    continue
                child = seen
            d.children.append(self.entry(child, before.get(child.name), d))
        d.walked = True
        self.maybe_finish(d)
        return d

    # --- results from the workers ------------------------------------------------------------

    def flush_batch(self) -> None:
        self.reporter.stop_if_cancelled()
        if self.batch:
            self.pool.submit(self.batches, self.batch)
            self.batches += 1
            self.batch, self.batch_bytes = [], 0
            self.report()

    def handle(self, msg: tuple[Any, ...]) -> None:
        self.reporter.stop_if_cancelled()
        if msg[0] == "pack":
            self.packed(msg[1])
        elif msg[0] == "files":
            for r in msg[2]:
                self.read_done(r)
            self.report()
        elif msg[0] == "read":  # a large file, part read
            self.partly_read[msg[1]] = self.partly_read.get(msg[1], 0) + msg[2]
            self.progress.bytes_done += msg[2]
            self.report()

    def report(self) -> None:
        self.progress.limit_bps = current_limit_bps(self.repo.store)
        self.reporter.progress(self.progress)

    def packed(self, info: PackInfo) -> None:
        self.index.add_pack(info)
        self.unindexed.append(info)
        self.progress.bytes_stored += info.size
        if len(self.unindexed) >= SEGMENT_EVERY_PACKS:
            self.repo.write_segment(self.unindexed)
            self.unindexed = []

    def read_done(self, r: FileResult) -> None:
        e, d, path = self.pending.pop(r.ref)
        link = self.link_of.pop(r.ref, None)
        if link is not None:
            self.links[link] = (None, e)  # later names of this inode copy it at once
        shown = self.shown(path)
        self.progress.files_done += 1
        self.progress.bytes_done += r.size - self.partly_read.pop(r.ref, 0)
        self.progress.current = shown
        if r.error is not None:
            e["skip"] = True
            self.reporter.warn(shown, r.error)
        else:
            e["content"] = [c.hex() for c in r.content]
            e["size"] = r.size
            e["mtime_ns"], e["ctime_ns"], e["inode"] = r.mtime_ns, r.ctime_ns, r.inode
            if r.mtime_ns >= self.racy_after_ns:
                # Racily clean (as git calls it): a write in the same clock tick as the read would
                # leave these stamps alone. Record a ctime no file has, so the next backup reads
                # this file again instead of trusting the stamps.
                e["ctime_ns"] = 0
            self.stats.bytes_read += r.size
            self.stats.bytes_added += r.new_bytes
            if r.replaced:
                self.reporter.warn(shown, REPLACED)
            elif r.changed:
                self.reporter.warn(
                    shown, "changed while it was read: the copy stored may be inconsistent"
                )
        for follower, fd in self.followers.pop(r.ref, []):
            for key in LINK_FIELDS:
                if key in e:
                    follower[key] = e[key]
            self.progress.files_done += 1
            fd.pending -= 1
            self.maybe_finish(fd)
        d.pending -= 1
        self.maybe_finish(d)

    # --- trees -------------------------------------------------------------------------------

    def maybe_finish(self, d: _Dir) -> None:
        while d.walked and d.pending == 0 and d.tree_id is None:
            self.finish(d)
            if d.parent is None:
                return
            d.parent.pending -= 1
            d = d.parent

    def finish(self, d: _Dir) -> None:
        """Write the folder's tree (or reuse the previous one) and let go of its children."""
        entries: list[Entry] = []
        for c in d.children:
            if isinstance(c, _Dir):
                entries.append(c.old if c.entry == c.old and c.old is not None else c.entry)
            elif not c.get("skip"):
                entries.append(c)
        old = d.old_entries
        if (
            old is not None
            and d.old is not None
            and len(old) == len(entries)
            and all(a is b for a, b in zip(entries, old, strict=True))
        ):
            tree_id = bytes.fromhex(d.old["subtree"])  # nothing changed in this folder
        else:
            tree_id, plain = self.repo.entries_id(entries)
            if tree_id not in self.index and tree_id not in self.trees_written:
                self.trees_written.add(tree_id)
                info = self.trees.add(TREE, tree_id, plain)
                if info is not None:
                    self.packed(info)
        d.tree_id = tree_id
        d.entry["subtree"] = tree_id.hex()
        d.children = []
        d.old_entries = None

    # --- the items ---------------------------------------------------------------------------

    def walk(self, items: list[bytes], old_tree: bytes | None) -> _Dir:
        root = _Dir({"type": "dir"}, None)
        if old_tree is not None:
            root.old = {"type": "dir", "subtree": old_tree.hex()}
            root.old_entries = self.old_listing(root.old)
        ancestors = [root]
        for item in items:
            try:
                fs = self.stat_item(item)
            except OSError as err:
                self.reporter.warn(os.fsdecode(item), f"cannot back up: {err.strerror}")
                continue
            self.items_found += 1
            if item == b"/":
                self.whole_root(root)
                continue
            parts = item.strip(b"/").split(b"/")
            here = root
            for depth, part in enumerate(parts[:-1]):
                sub = next(
                    (
                        c
                        for c in here.children
                        if isinstance(c, _Dir) and entry_name(c.entry) == part
                    ),
                    None,
                )
                if sub is None:
                    sub = self.ancestor(item, parts, depth, here)
                    ancestors.append(sub)
                here = sub
            old = _by_name(here.old_entries).get(parts[-1])
            here.children.append(self.entry(fs, old, here))
        return self.close_ancestors(root, ancestors)

    def ancestor(self, item: bytes, parts: list[bytes], depth: int, here: _Dir) -> _Dir:
        path = b"/" + b"/".join(parts[: depth + 1])
        try:
            fs = self.stat_item(path)
            if fs.kind == "symlink":
                # A folder above an item reached through a symlink (/home -> /data/home) is
                # recorded as the folder it leads to, so the item can be found and restored.
                fs = FsEntry(fs.name, fs.path, "dir", os.stat(fs.path))
                if not stat.S_ISDIR(fs.st.st_mode):
                    raise NotADirectoryError(errno.ENOTDIR, "not a folder", path)
        except OSError as err:
            raise UsageError(
                f"cannot back up {os.fsdecode(item)}: {os.fsdecode(path)}: {err.strerror}"
            ) from None
        old = _by_name(here.old_entries).get(parts[depth])
        sub = _Dir(self.base(fs), here, old, self.old_listing(old))
        self.add_xattrs(sub.entry, fs)
        here.children.append(sub)
        here.pending += 1
        return sub

    def whole_root(self, root: _Dir) -> None:
        """The item "/": the root tree is the listing of / itself."""
        before = _by_name(root.old_entries)
        for found in list_dir(self.view.read_path(b"/")):
            if self.excludes.excludes(self.view.live_path(found.path), found.kind == "dir"):
                continue
            child = self.view.child(found)
            if child is None:
                continue
            root.children.append(self.entry(child, before.get(child.name), root))

    def close_ancestors(self, root: _Dir, ancestors: list[_Dir]) -> _Dir:
        """Folders above the items hold children in item order: sort them by name bytes, as every
        tree is, then let them finish (deepest first) once all their work is done."""
        self.flush_batch()
        self.pool.finish()
        for d in ancestors:
            d.children.sort(key=lambda c: entry_name(c.entry if isinstance(c, _Dir) else c))
        for d in reversed(ancestors):
            d.walked = True
            self.maybe_finish(d)
        if root.tree_id is None:
            raise CairnError("internal error: the backup finished with work still in flight")
        info = self.trees.flush()
        if info is not None:
            self.packed(info)
        return root


def backup(
    repo: Repository, options: BackupOptions, reporter: Reporter | None = None
) -> BackupResult:
    reporter = reporter or Reporter()
    started = time.monotonic()
    now = repo.clock.now()
    items = normalize_items(options.items)
    exclusions = Exclusions(options.excludes)
    for item, message in item_conflicts(exclusions, items):
        reporter.warn(os.fsdecode(item), message)
    excludes = Scope(exclusions, items)
    with repo.locks.acquire(exclusive=False, purpose="backup"):
        index = repo.load_index(on_damage=reporter.warn)
        listing = repo.confirm_packs(repo.list_packs(), index.packs)
        repo.recover_packs(index, listing)
        index, missing = repo.drop_missing_packs(index, listing)
        if missing:
            shown = ", ".join(p[:16] for p in missing[:10])
            reporter.warn(
                "",
                f"{len(missing)} pack(s) named by the index are missing from the vault ({shown}):"
                " their data is uploaded again where this backup meets it; run `cairn check`"
                " and `cairn repair` to find and mark the recovery points that lost data",
            )
        points = repo.list_points(on_damage=reporter.warn)
        for text in rollback_findings(repo.memory, repo.point_ids()):
            reporter.warn("", f"{text} (this backup builds on the newest point there is)")
        for ahead in [t for t in (dated_ahead(p, now) for p in points) if t is not None]:
            reporter.warn("", ahead)
        points = [p for p in points if dated_ahead(p, now) is None]
        parent = points[-1] if points else None
        snapshots = source_view(items, options.snapshot, reporter.warn)
        view = snapshots if snapshots is not None else LIVE
        run = _Backup(
            repo, index, excludes, reporter, options.workers, options.racy_window_ns, view
        )
        # The walk recurses once per folder level (two frames a level): allow deep trees.
        sys.setrecursionlimit(max(sys.getrecursionlimit(), 20_000))
        if reporter.on_progress is not None:
            threading.Thread(
                target=count, args=(items, excludes, run.progress), daemon=True
            ).start()
        try:
            with snapshots if snapshots is not None else nullcontext():
                root = run.walk(items, parent.tree if parent is not None else None)
        except (KeyboardInterrupt, Interrupted) as stop:
            # A safe point: the workers stop, the packs already indexed here are kept for the
            # next backup, and no recovery point is written.
            run.pool.terminate()
            if run.unindexed:
                repo.write_segment(run.unindexed)
            verb = "cancelled" if isinstance(stop, Interrupted) else "interrupted"
            raise Interrupted(f"backup {verb}; the vault is consistent") from None
        except BaseException:
            run.pool.terminate()
            raise
        if not run.items_found:
            raise UsageError("nothing to back up: none of the items could be read")
        assert root.tree_id is not None
        if run.unindexed:
            repo.write_segment(run.unindexed)
        stats = run.stats
        stats.warnings = len(reporter.warnings)
        stats.bytes_stored = run.progress.bytes_stored
        point = RecoveryPoint(
            id=random_id(),
            time=now,
            machine=repo.machine,
            host=socket.gethostname(),
            paths=[os.fsdecode(p) for p in items],
            tree=root.tree_id,
            excludes=list(options.excludes),
            parent=parent.id if parent else None,
            trigger=options.trigger,
            slot=options.slot,
            substitutes=options.substitutes,
            retain_until=options.retain_until,
            status="completed-with-warnings" if reporter.warnings else "completed",
            stats=stats,
            program=f"cairn {__version__}",
        )
        repo.save_point(point)
        if repo.memory is not None:
            try:
                repo.memory.saw([p.id for p in points] + [point.id])
            except NoSpace as e:  # the point is stored whole: a warning, not a failed backup
                reporter.warn("", f"recovery point {point.id[:16]} is stored, but {e}")
    return BackupResult(point, len(reporter.warnings), time.monotonic() - started)
