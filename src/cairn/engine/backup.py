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
from cairn.vault.tree import Node

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
    node: Node
    children: list[Node | _Dir] = field(default_factory=list)


def _node(entry: FsEntry) -> Node:
    st = entry.st
    user, group = owner_names(st.st_uid, st.st_gid)
    return Node(
        name=entry.name,
        kind=entry.kind,
        mode=st.st_mode & 0o7777,
        uid=st.st_uid,
        gid=st.st_gid,
        user=user,
        group=group,
        mtime_ns=st.st_mtime_ns,
        ctime_ns=st.st_ctime_ns,
        inode=st.st_ino,
        dev=st.st_dev,
        nlink=st.st_nlink,
        size=st.st_size if entry.kind == "file" else 0,
        rdev=st.st_rdev if entry.kind in ("chardev", "blockdev") else 0,
    )


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


class _Walker:
    """Phase 1: the tree to back up, in memory, with each file to read queued as a task."""

    def __init__(
        self, repo: Repository, index: Index, excludes: Exclusions, reporter: Reporter
    ) -> None:
        self.repo = repo
        self.index = index
        self.excludes = excludes
        self.reporter = reporter
        self.tasks: list[FileTask] = []
        self.pending: dict[int, Node] = {}
        self.links: dict[tuple[int, int], Node] = {}
        self.link_followers: list[tuple[Node, Node]] = []
        self.stats = PointStats()
        self.bytes_to_read = 0

    def old_children(self, old: Node | None) -> dict[bytes, Node]:
        if old is None or old.kind != "dir" or old.subtree is None:
            return {}
        try:
            return {n.name: n for n in self.repo.load_tree(self.index, old.subtree)}
        except CairnError:
            return {}  # a damaged previous point only costs re-reading

    def file_node(self, entry: FsEntry, old: Node | None) -> Node:
        node = _node(entry)
        st = entry.st
        self.stats.files += 1
        self.stats.bytes += st.st_size
        unchanged = (
            old is not None
            and old.kind == "file"
            and (old.size, old.mtime_ns, old.ctime_ns, old.inode)
            == (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
            and all(c in self.index for c in old.content)
        )
        if unchanged:
            self.stats.files_unchanged += 1
        elif old is None:
            self.stats.files_new += 1
        else:
            self.stats.files_changed += 1
        if st.st_nlink > 1:
            first = self.links.get((st.st_dev, st.st_ino))
            if first is not None:
                self.link_followers.append((node, first))
                return node
            self.links[(st.st_dev, st.st_ino)] = node
        if unchanged:
            assert old is not None
            node.content = list(old.content)
            node.xattrs = dict(old.xattrs)
            return node
        node.xattrs = self.xattrs(entry)
        ref = len(self.tasks)
        self.tasks.append(FileTask(ref, entry.path, st.st_size))
        self.pending[ref] = node
        self.bytes_to_read += st.st_size
        return node

    def xattrs(self, entry: FsEntry) -> dict[str, bytes]:
        values, problems = read_xattrs(entry.path)
        for p in problems:
            self.reporter.warn(os.fsdecode(entry.path), p)
        return values

    def entry(self, entry: FsEntry, old: Node | None) -> Node | _Dir:
        if entry.kind == "dir":
            return self.directory(entry, old)
        if entry.kind == "file":
            return self.file_node(entry, old)
        node = _node(entry)
        if entry.kind == "symlink":
            try:
                node.target = os.readlink(entry.path)
            except OSError as e:
                self.reporter.warn(os.fsdecode(entry.path), f"cannot read link: {e.strerror}")
        node.xattrs = {} if entry.kind == "symlink" else self.xattrs(entry)
        return node

    def directory(self, entry: FsEntry, old: Node | None) -> _Dir:
        d = _Dir(_node(entry))
        d.node.xattrs = self.xattrs(entry)
        self.stats.dirs += 1
        try:
            children = list_dir(entry.path)
        except OSError as e:
            self.reporter.warn(os.fsdecode(entry.path), f"cannot list folder: {e.strerror}")
            return d
        before = self.old_children(old)
        for child in children:
            if self.excludes.excludes(child.path, child.kind == "dir"):
                continue
            d.children.append(self.entry(child, before.get(child.name)))
        return d

    def walk(self, items: list[bytes], old_root: Node | None) -> _Dir:
        root = _Dir(Node(name=b"", kind="dir", mode=0o755))
        for item in items:
            try:
                entry = stat_entry(item)
            except OSError as e:
                self.reporter.warn(os.fsdecode(item), f"cannot back up: {e.strerror}")
                continue
            parts = item.strip(b"/").split(b"/")
            here, old = root, old_root
            for depth, part in enumerate(parts[:-1]):
                old = self.old_children(old).get(part)
                sub = next(
                    (c for c in here.children if isinstance(c, _Dir) and c.node.name == part), None
                )
                if sub is None:
                    ancestor = b"/" + b"/".join(parts[: depth + 1])
                    try:
                        sub = _Dir(_node(stat_entry(ancestor)))
                    except OSError as e:
                        raise UsageError(
                            f"cannot back up {os.fsdecode(item)}: {os.fsdecode(ancestor)}:"
                            f" {e.strerror}"
                        ) from None
                    here.children.append(sub)
                here = sub
            old = self.old_children(old).get(parts[-1])
            here.children.append(self.entry(entry, old))
        return root


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
        node = self.walker.pending.pop(r.ref)
        path = os.fsdecode(self.walker.tasks[r.ref].path)
        self.progress.files_done += 1
        self.progress.bytes_done += r.size
        self.progress.current = path
        stats = self.walker.stats
        if r.error is not None:
            node.kind = "skip"
            self.reporter.warn(path, r.error)
            return
        node.content = r.content
        node.size = r.size
        node.mtime_ns, node.ctime_ns, node.inode = r.mtime_ns, r.ctime_ns, r.inode
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
        for p in procs:
            p.start()
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
        nodes: list[Node] = []
        for c in d.children:
            if isinstance(c, _Dir):
                c.node.subtree = finish(c)
                nodes.append(c.node)
            elif c.kind != "skip":
                nodes.append(c)
        tree_id, plain = repo.tree_id(nodes)
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
        old_root = None
        if parent is not None:
            old_root = Node(name=b"", kind="dir", subtree=parent.tree)
        reporter.progress(Progress("scan"))
        walker = _Walker(repo, index, excludes, reporter)
        root = walker.walk(items, old_root)
        if not root.children:
            raise UsageError("nothing to back up: none of the items could be read")
        run = _Run(repo, index, walker, reporter, options.workers)
        setup = WorkerSetup(repo.store, repo.machine, repo.key, repo.config, set(index.ids()))
        try:
            run.run(setup)
        except KeyboardInterrupt:
            raise Interrupted("backup interrupted; the vault is consistent") from None
        for follower, first in walker.link_followers:
            follower.content = list(first.content)
            follower.size = first.size
            follower.xattrs = dict(first.xattrs)
            if first.kind == "skip":
                follower.kind = "skip"
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
