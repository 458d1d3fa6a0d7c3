"""Back up: walk the items, skip what has not changed, read the rest in worker processes, write
trees, the index and the recovery point, in that order.

    walk (scandir, exclusions)            parent, phase 1: the whole tree in memory, with totals
      -> skip unchanged files             size + mtime + ctime + inode against the previous point
      -> read, chunk, hash, dedup,        worker processes (workers.py), whole batches of files
         compress, seal, pack, upload
      -> trees, bottom-up                 parent: one tree per directory, deduplicated by id
      -> index segments -> recovery point the write order of docs/format.md

Source-side problems (a file that cannot be read, one that changed while read) become warnings and
the job ends "completed with warnings"; vault-side problems stop the job with the vault consistent.
"""

from __future__ import annotations

import gc
import os
import queue
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cairn import __version__
from cairn.core.errors import CairnError, Interrupted, UsageError
from cairn.core.events import Progress, Reporter
from cairn.core.ids import random_id
from cairn.engine.workers import FileResult, FileTask, WorkerSetup, context, worker_main
from cairn.fs.exclusions import Exclusions
from cairn.fs.metadata import owner_names, read_xattrs
from cairn.fs.walk import FsEntry, list_dir, stat_entry
from cairn.vault.index import Index
from cairn.vault.packs import TREE, PackInfo
from cairn.vault.points import PointStats, RecoveryPoint
from cairn.vault.repository import Repository
from cairn.vault.tree import Entry, entry_name, put_bytes, stat_entry_json, xattrs_json

BATCH_BYTES = 8 << 20
BATCH_FILES = 256
SEGMENT_EVERY_PACKS = 64


@dataclass
class BackupOptions:
    items: list[str]
    excludes: list[str] = field(default_factory=list)
    trigger: str = "on-demand"
    slot: str | None = None
    substitutes: str | None = None
    retain_until: str | None = None
    workers: int = 2


@dataclass
class BackupResult:
    point: RecoveryPoint
    warnings: int
    duration_s: float


@dataclass
class _Dir:
    """A folder being backed up: its entry, the previous point's entry and listing, its children."""

    entry: Entry
    old: Entry | None = None
    old_entries: list[Entry] | None = None
    children: list[Entry | _Dir] = field(default_factory=list)
    listed: bool = False  # filled by listing the folder (sorted), not by naming items in it


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


class _Walker:
    """Phase 1: the tree to back up, in memory, with each file to read queued as a task.

    Entries are kept in their stored form (tree.py's JSON dicts), so an unchanged file reuses the
    previous point's entry as it is, and a folder whose entries all match its previous listing
    reuses the previous tree id without encoding or hashing anything.
    """

    def __init__(
        self, repo: Repository, index: Index, excludes: Exclusions, reporter: Reporter
    ) -> None:
        self.repo = repo
        self.index = index
        self.excludes = excludes
        self.reporter = reporter
        self.tasks: list[FileTask] = []
        self.pending: dict[int, Entry] = {}
        self.links: dict[tuple[int, int], Entry] = {}
        self.link_followers: list[tuple[Entry, Entry]] = []
        self.stats = PointStats()
        self.bytes_to_read = 0

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
        try:
            return all(bytes.fromhex(c) in self.index for c in content)
        except (TypeError, ValueError):
            return False

    def base(self, fs: FsEntry) -> Entry:
        user, group = owner_names(fs.st.st_uid, fs.st.st_gid)
        return stat_entry_json(fs.name, fs.kind, fs.st, user, group)

    def file_entry(self, fs: FsEntry, old: Entry | None) -> Entry:
        st = fs.st
        e = self.base(fs)
        self.stats.files += 1
        self.stats.bytes += st.st_size
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
            return old if e == old else e
        if old is None:
            self.stats.files_new += 1
        else:
            self.stats.files_changed += 1
        e["content"] = []
        self.add_xattrs(e, fs)
        if st.st_nlink > 1:
            first = self.links.get((st.st_dev, st.st_ino))
            if first is not None:
                self.link_followers.append((e, first))
                return e
            self.links[(st.st_dev, st.st_ino)] = e
        ref = len(self.tasks)
        self.tasks.append(FileTask(ref, fs.path, st.st_size))
        self.pending[ref] = e
        self.bytes_to_read += st.st_size
        return e

    def add_xattrs(self, e: Entry, fs: FsEntry) -> None:
        values, problems = read_xattrs(fs.path)
        for p in problems:
            self.reporter.warn(os.fsdecode(fs.path), p)
        if values:
            e["xattrs"] = xattrs_json(values)

    def entry(self, fs: FsEntry, old: Entry | None) -> Entry | _Dir:
        if fs.kind == "dir":
            return self.directory(fs, old)
        if fs.kind == "file":
            return self.file_entry(fs, old)
        e = self.base(fs)
        if fs.kind == "symlink":
            try:
                put_bytes(e, "target", os.readlink(fs.path))
            except OSError as err:
                self.reporter.warn(os.fsdecode(fs.path), f"cannot read link: {err.strerror}")
        else:
            self.add_xattrs(e, fs)
        return old if e == old else e

    def directory(self, fs: FsEntry, old: Entry | None) -> _Dir:
        d = _Dir(self.base(fs), old, self.old_listing(old), listed=True)
        self.add_xattrs(d.entry, fs)
        self.stats.dirs += 1
        try:
            children = list_dir(fs.path)
        except OSError as err:
            self.reporter.warn(os.fsdecode(fs.path), f"cannot list folder: {err.strerror}")
            return d
        before = _by_name(d.old_entries)
        for child in children:
            if self.excludes.excludes(child.path, child.kind == "dir"):
                continue
            d.children.append(self.entry(child, before.get(child.name)))
        return d

    def walk(self, items: list[bytes], old_tree: bytes | None) -> _Dir:
        root = _Dir({"type": "dir"})
        if old_tree is not None:
            root.old = {"type": "dir", "subtree": old_tree.hex()}
            root.old_entries = self.old_listing(root.old)
        for item in items:
            try:
                fs = stat_entry(item)
            except OSError as err:
                self.reporter.warn(os.fsdecode(item), f"cannot back up: {err.strerror}")
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
                    ancestor = b"/" + b"/".join(parts[: depth + 1])
                    try:
                        afs = stat_entry(ancestor)
                    except OSError as err:
                        raise UsageError(
                            f"cannot back up {os.fsdecode(item)}: {os.fsdecode(ancestor)}:"
                            f" {err.strerror}"
                        ) from None
                    old = _by_name(here.old_entries).get(part)
                    sub = _Dir(self.base(afs), old, self.old_listing(old))
                    self.add_xattrs(sub.entry, afs)
                    here.children.append(sub)
                here = sub
            old = _by_name(here.old_entries).get(parts[-1])
            here.children.append(self.entry(fs, old))
        _sort_ancestors(root)
        return root


def _sort_ancestors(d: _Dir) -> None:
    """Folders above the items were filled in item order: put them in name-bytes order, as every
    tree's entries are (folders the walk listed are sorted already)."""
    d.children.sort(key=lambda c: entry_name(c.entry if isinstance(c, _Dir) else c))
    for c in d.children:
        if isinstance(c, _Dir) and not c.listed:
            _sort_ancestors(c)


def _batches(tasks: list[FileTask]) -> Iterator[list[FileTask]]:
    batch: list[FileTask] = []
    size = 0
    for t in tasks:
        batch.append(t)
        size += t.size
        if size >= BATCH_BYTES or len(batch) >= BATCH_FILES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


class _Run:
    """Phase 2: hand batches to the workers; collect results and packs."""

    def __init__(
        self, repo: Repository, index: Index, walker: _Walker, reporter: Reporter, workers: int
    ) -> None:
        self.repo = repo
        self.index = index
        self.walker = walker
        self.reporter = reporter
        self.nworkers = max(1, workers)
        self.new_packs: list[PackInfo] = []
        self.unindexed: list[PackInfo] = []
        self.progress = Progress(
            "backup", files_total=len(walker.tasks), bytes_total=walker.bytes_to_read
        )

    def handle(self, msg: tuple[Any, ...]) -> bool:
        """Process one worker message; True when a worker finished."""
        kind = msg[0]
        if kind == "pack":
            info: PackInfo = msg[1]
            self.new_packs.append(info)
            self.unindexed.append(info)
            self.index.add_pack(info)
            self.progress.bytes_stored += info.size
            if len(self.unindexed) >= SEGMENT_EVERY_PACKS:
                self.repo.write_segment(self.unindexed)
                self.unindexed = []
        elif kind == "files":
            for r in msg[2]:
                self.apply(r)
            self.reporter.progress(self.progress)
        elif kind == "done":
            return True
        elif kind == "error":
            err = CairnError(msg[3])
            err.exit_code = msg[2]
            raise err
        return False

    def apply(self, r: FileResult) -> None:
        e = self.walker.pending.pop(r.ref)
        path = os.fsdecode(self.walker.tasks[r.ref].path)
        self.progress.files_done += 1
        self.progress.bytes_done += r.size
        self.progress.current = path
        stats = self.walker.stats
        if r.error is not None:
            e["skip"] = True
            self.reporter.warn(path, r.error)
            return
        e["content"] = [c.hex() for c in r.content]
        e["size"] = r.size
        e["mtime_ns"], e["ctime_ns"], e["inode"] = r.mtime_ns, r.ctime_ns, r.inode
        stats.bytes_read += r.size
        stats.bytes_added += r.new_bytes
        if r.changed:
            self.reporter.warn(
                path, "changed while it was read: the copy stored may be inconsistent"
            )

    def run(self, setup: WorkerSetup) -> None:
        if not self.walker.tasks:
            return
        ctx = context()
        tasks = ctx.Queue(maxsize=4 * self.nworkers)
        results = ctx.Queue()
        procs = [
            ctx.Process(
                target=worker_main,
                args=(i, setup, tasks, results, os.getpid()),
                daemon=True,
                name=f"cairn-backup-worker-{i}",
            )
            for i in range(self.nworkers)
        ]
        # Objects the parent made so far stay shared with the workers: keep the collector from
        # touching (and so copying) their pages in the children.
        gc.freeze()
        try:
            for p in procs:
                p.start()
        finally:
            gc.unfreeze()
        try:
            self.reporter.progress(self.progress)
            for n, batch in enumerate(_batches(self.walker.tasks)):
                while True:
                    try:
                        tasks.put((n, batch), timeout=0.05)
                        break
                    except queue.Full:
                        self.drain(results, procs, block=False)
                self.drain(results, procs, block=False)
            for _ in procs:
                tasks.put(None)
            done = 0
            while done < len(procs):
                done += self.drain(results, procs, block=True)
            for p in procs:
                p.join()
        except BaseException:
            for p in procs:
                if p.is_alive():
                    p.terminate()
            for p in procs:
                p.join(timeout=5)
            raise

    def drain(self, results: Any, procs: list[Any], *, block: bool) -> int:
        done = 0
        while True:
            try:
                msg = results.get(timeout=0.5) if block else results.get_nowait()
            except queue.Empty:
                if block:
                    dead = [p for p in procs if not p.is_alive() and p.exitcode not in (0, None)]
                    if dead:
                        raise CairnError(
                            f"a backup worker died (exit code {dead[0].exitcode}); the vault is"
                            " consistent: run the backup again"
                        ) from None
                    continue
                return done
            if self.handle(msg):
                done += 1
            if block:
                return done


def _finish_trees(repo: Repository, index: Index, root: _Dir) -> tuple[bytes, list[PackInfo]]:
    """Phase 3: one tree per directory, bottom-up; new trees go into tree packs."""
    writer = repo.pack_writer()
    packs: list[PackInfo] = []
    written: set[bytes] = set()

    def finish(d: _Dir) -> bytes:
        entries: list[Entry] = []
        for c in d.children:
            if isinstance(c, _Dir):
                c.entry["subtree"] = finish(c).hex()
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
            return bytes.fromhex(d.old["subtree"])  # nothing changed in this folder
        tree_id, plain = repo.entries_id(entries)
        if tree_id not in index and tree_id not in written:
            info = writer.add(TREE, tree_id, plain)
            written.add(tree_id)
            if info is not None:
                packs.append(info)
        return tree_id

    root_id = finish(root)
    info = writer.flush()
    if info is not None:
        packs.append(info)
    return root_id, packs


def backup(
    repo: Repository, options: BackupOptions, reporter: Reporter | None = None
) -> BackupResult:
    reporter = reporter or Reporter()
    started = time.monotonic()
    now = repo.clock.now()
    items = normalize_items(options.items)
    excludes = Exclusions(options.excludes)
    with repo.locks.acquire(exclusive=False, purpose="backup"):
        index = repo.load_index()
        repo.recover_packs(index)
        points = repo.list_points()
        parent = points[-1] if points else None
        reporter.progress(Progress("scan"))
        walker = _Walker(repo, index, excludes, reporter)
        root = walker.walk(items, parent.tree if parent is not None else None)
        if not root.children:
            raise UsageError("nothing to back up: none of the items could be read")
        run = _Run(repo, index, walker, reporter, options.workers)
        setup = WorkerSetup(repo.store, repo.machine, repo.key, repo.config, set(index.ids()))
        try:
            run.run(setup)
        except KeyboardInterrupt:
            raise Interrupted("backup interrupted; the vault is consistent") from None
        for follower, first in walker.link_followers:
            for key in ("content", "size", "mtime_ns", "ctime_ns", "skip"):
                if key in first:
                    follower[key] = first[key]
        root_id, tree_packs = _finish_trees(repo, index, root)
        for p in tree_packs:
            run.progress.bytes_stored += p.size
        pending = run.unindexed + tree_packs
        if pending:
            repo.write_segment(pending)
        stats = walker.stats
        stats.warnings = len(reporter.warnings)
        stats.bytes_stored = run.progress.bytes_stored
        point = RecoveryPoint(
            id=random_id(),
            time=now,
            machine=repo.machine,
            host=socket.gethostname(),
            paths=[os.fsdecode(p) for p in items],
            tree=root_id,
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
    return BackupResult(point, len(reporter.warnings), time.monotonic() - started)
