"""Restore's planning: folders, names, conflicts and the entries to write, from the trees.

The vault is untrusted: every name is checked (no `..`, no `/`, no NUL), every folder is created or
found as a real directory (a planted symlink is refused), a folder listed twice or as its own
ancestor stops the restore, and so does a tree expanding far past the entries the point records.
A folder whose tree cannot be read is named and skipped. Trees are walked with an explicit stack,
so any depth plans without recursion. No path is given to the kernel: each folder is opened from
its parent's descriptor (`fs.folders`), and every entry is made relative to its folder's, so a
folder swapped for a symlink while the restore runs cannot redirect a write, and no depth meets
PATH_MAX. Each file to write gets a temporary name in its folder (`fs.safety.temp_name`);
`restore.py` writes the data and renames it when whole.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from cairn.core.errors import (
    BlobNotFound,
    DamageFound,
    IntegrityError,
    UnsafePath,
    UnsafeTarget,
)
from cairn.core.events import Progress, Reporter
from cairn.engine.special import SpecialFilter
from cairn.fs.conflict import copy_name
from cairn.fs.folders import DIR_FLAGS, Folder, Folders
from cairn.fs.metadata import apply_metadata_at, apply_metadata_fd, create_special
from cairn.fs.safety import check_name, remove_stale_temps, temp_name
from cairn.vault.index import Index
from cairn.vault.points import RecoveryPoint
from cairn.vault.repository import Repository
from cairn.vault.tree import Node

CONFLICTS = ("copy", "overwrite", "skip")
EXPANSION_SLACK = 10_000


@dataclass
class RestoreOptions:
    paths: list[str] = field(default_factory=list)
    target: str | None = None
    conflict: str = "copy"
    workers: int = 2
    # False for another machine's point: no device nodes, setuid/setgid or file capabilities
    # (engine/special.py); the CLI's --restore-special sets it True.
    restore_special: bool = True
    # False: the restored entries take this machine's defaults instead of the recorded
    # permissions: no owner set, no ACLs (the POSIX ACL xattrs), and mode 0666/0777 (0777 also for
    # a file that was executable) less this process's umask. MARS's "restore ACL permissions".
    permissions: bool = True


@dataclass
class RestoreResult:
    files: int = 0
    dirs: int = 0
    bytes: int = 0
    skipped: int = 0  # existing files left alone (--conflict skip)
    copies: int = 0  # restored beside an existing file (--conflict copy)
    overwrites: int = 0  # existing files replaced (--conflict overwrite)
    identical: int = 0  # existing files already equal to the point's: left as they are
    damaged: list[str] = field(default_factory=list)


@dataclass
class PlannedFile:
    node: Node
    folder: Folder  # where it is written, by descriptor (fs/folders.py)
    name: bytes  # its real name there
    temp: bytes  # the temporary name it is written under, renamed to `name` when whole
    chunks_left: int = 0
    length: int = 0  # the sum of its chunks' lengths: the restored file's size
    fd: int = -1
    created: bool = False
    damaged: bool = False
    problem: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def shown(self) -> str:
        return self.folder.path(self.name)


ACL_XATTRS = ("system.posix_acl_access", "system.posix_acl_default")


def current_umask() -> int:
    """This process's umask, read without changing it (Linux's /proc; elsewhere set and put back)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_CHANGED = frozenset({errno.EEXIST, errno.ENOENT, errno.ENOTDIR, errno.ELOOP})


def _changed(shown: str) -> UnsafeTarget:
    return UnsafeTarget(
        f"{shown} was made, moved or replaced by someone else while the restore ran: stopped, so"
        " nothing is written where it does not belong; restore again"
    )


@contextmanager
def changed_guard(shown: str) -> Iterator[None]:
    """Turn a failure that means "someone changed this folder under us" (its name gone, taken,
    or made a symlink) into `UnsafeTarget` naming `shown`."""
    try:
        yield
    except OSError as e:
        if e.errno not in _CHANGED:
            raise
        raise _changed(shown) from None


def _open_nofollow_at(dir_fd: int) -> Any:
    def opener(name: str | bytes, flags: int) -> int:
        flags |= os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        return os.open(name, flags, dir_fd=dir_fd)

    return opener


class Planner:
    """Plans a restore: makes the folders, decides each entry's name, writes links and special
    files at once, and lists the regular files for the writer (a subclass) to fill. Every folder
    is a `Folder` reached by descriptor (`self.folders`), never by path."""

    folders: Folders

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
        self.set_owner = os.geteuid() == 0 and options.permissions
        self.umask = current_umask()
        self.result = RestoreResult()
        self.special = SpecialFilter(options.restore_special)
        # Files and folders planned, against twice what the point recorded (plus room for the
        # folders above its items, which it does not count).
        self.entries = 0
        self.entry_budget = 2 * (point.stats.files + point.stats.dirs) + EXPANSION_SLACK
        self.files: list[PlannedFile] = []
        self.dirs: list[tuple[Folder, Node]] = []
        self.links: dict[tuple[int, int], PlannedFile] = {}
        self.link_followers: list[tuple[Folder, bytes, PlannedFile, Node]] = []
        self.lock = threading.Lock()
        self.fresh: set[Folder] = set()
        self.progress = Progress("restore")
        self.item_ancestors = set()
        for p in point.paths:
            parts = [x for x in os.fsencode(p).split(b"/") if x]
            for i in range(len(parts)):
                self.item_ancestors.add(b"/".join(parts[:i]))

    # --- planning: folders, names and conflicts --------------------------------------------------

    def ensure_dir(self, parent: Folder, name: bytes, rel: bytes) -> Folder | None:
        """The folder `name` in `parent`, made if missing, as a real directory opened without
        following a symlink; None if it must be skipped (a file is in its way)."""
        check_name(name)
        with self.folders.held(parent) as pfd:
            try:
                fd = os.open(name, DIR_FLAGS, dir_fd=pfd)
            except FileNotFoundError:
                with changed_guard(parent.path(name)):
                    os.mkdir(name, 0o700, dir_fd=pfd)
                    fd = os.open(name, DIR_FLAGS, dir_fd=pfd)
                folder = self.folders.add(parent, name, fd)
                self.fresh.add(folder)
                return folder
            except OSError as e:
                if e.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                return self.not_a_dir(parent, pfd, name, rel)
        remove_stale_temps(fd)
        return self.folders.add(parent, name, fd)

    def not_a_dir(self, parent: Folder, pfd: int, name: bytes, rel: bytes) -> Folder | None:
        """`name` in `parent` is not a real directory: a symlink (refused, unless it is the
        machine's own symlinked folder above an item, /home -> /data/home, restored in place)
        or a file in the way (skipped, with a warning)."""
        shown = parent.path(name)
        try:
            st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            raise _changed(shown) from None
        if stat.S_ISLNK(st.st_mode):
            if self.options.target is None and rel in self.item_ancestors:
                try:
                    fd = os.open(name, DIR_FLAGS & ~os.O_NOFOLLOW, dir_fd=pfd)
                except OSError:
                    fd = -1
                if fd >= 0:
                    return self.folders.add(parent, name, fd, follow=True)
            raise UnsafeTarget(
                f"{shown} is a symlink where the recovery point has a folder: refusing to"
                " restore through it; move it away and restore again"
            )
        self.reporter.warn(shown, "a file is in the way of a folder: skipped")
        return None

    def place(self, folder: Folder, node: Node) -> bytes | None:
        """The name in `folder` a file, link or special file is written to; None to skip it."""
        check_name(node.name)
        if folder in self.fresh:
            return node.name  # a folder this restore made holds nothing it did not put there
        with self.folders.held(folder) as fd:
            try:
                st = os.stat(node.name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                return node.name
            if self.options.conflict == "skip":
                self.result.skipped += 1
                return None
            if self.identical(fd, node.name, node):
                self.result.identical += 1  # already what the point holds: no copy, no rewrite
                return None
            if self.options.conflict == "copy":
                name = copy_name(fd, node.name, self.when, lambda n: self.identical(fd, n, node))
                if name is None:
                    self.result.identical += 1
                    return None
                self.result.copies += 1
                return name
        if stat.S_ISDIR(st.st_mode):
            self.reporter.warn(folder.path(node.name), "a folder is in the way of a file: skipped")
            return None
        self.result.overwrites += 1
        return node.name

    def identical(self, dir_fd: int, name: bytes, node: Node) -> bool:
        """Whether `name` in the folder `dir_fd` already is the point's file or link: same kind,
        size, mode (set-id bits aside) and modification time, and, for a file, every chunk's
        keyed hash."""
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            if node.kind == "symlink":
                return stat.S_ISLNK(st.st_mode) and os.readlink(name, dir_fd=dir_fd) == node.target
            if node.kind != "file" or not stat.S_ISREG(st.st_mode):
                return False
            if (st.st_size, st.st_mtime_ns) != (node.size, node.mtime_ns) or (
                stat.S_IMODE(st.st_mode) & 0o1777 != stat.S_IMODE(node.mode) & 0o1777
            ):
                return False
            with open(name, "rb", opener=_open_nofollow_at(dir_fd)) as f:
                for cid in node.content:
                    loc = self.index.get(cid)
                    if loc is None or self.repo.hasher.id_of(f.read(loc.raw_length)) != cid:
                        return False
                return f.read(1) == b""
        except OSError:
            return False

    def plan(self, parts: list[bytes], node: Node) -> None:
        folder: Folder | None = self.folders.root
        rel = b""
        for p in parts[:-1]:
            assert folder is not None
            rel = rel + b"/" + p if rel else p
            folder = self.ensure_dir(folder, p, rel)
            if folder is None:
                return
        assert folder is not None
        if node.kind == "dir":
            if parts:
                rel = rel + b"/" + parts[-1] if rel else parts[-1]
                folder = self.ensure_dir(folder, parts[-1], rel)
                if folder is None:
                    return
                self.dirs.append((folder, node))
            self.plan_dir(node, folder, rel)
        else:
            self.plan_leaf(node, folder)

    def children(self, node: Node, folder: Folder) -> list[Node] | None:
        """A folder's entries; None (the folder named as damaged) if its tree cannot be read."""
        try:
            if node.subtree is None:
                raise IntegrityError("the entry is a folder without a listing")
            children = self.repo.load_tree(self.index, node.subtree)
        except (IntegrityError, BlobNotFound) as e:
            shown = folder.path()
            self.result.damaged.append(shown)
            self.reporter.warn(shown, f"folder not restored: its listing is damaged: {e}")
            return None
        if len({c.name for c in children}) != len(children):
            raise UnsafePath(
                f"the recovery point names one entry twice in {folder.path()}: the vault"
                " is damaged or hostile"
            )
        return children

    def count_entry(self) -> None:
        """Refuse a tree that expands past what the point says it holds (a hostile vault can
        list one subtree many times over and make a few KB expand into millions of folders)."""
        self.entries += 1
        if self.entries > self.entry_budget:
            raise DamageFound(
                f"recovery point {self.point.id[:8]} expands into more entries than the recovery"
                f" point holds ({self.point.stats.files} files and {self.point.stats.dirs}"
                f" folders recorded; stopped after {self.entry_budget}): its trees list the same"
                " folder over and over, so the vault is damaged or hostile; restore stopped"
            )

    def plan_dir(self, node: Node, folder: Folder, rel: bytes) -> None:
        """Plan everything under one folder, depth first with an explicit stack (a tree any
        number of folders deep needs no recursion, and no path: each folder is opened from its
        parent's descriptor); a damaged subfolder is named and skipped."""
        top = self.children(node, folder)
        if top is None:
            return
        stack: list[tuple[Folder, bytes, bytes | None, Iterator[Node]]] = [
            (folder, rel, node.subtree, iter(top))
        ]
        on_path = {node.subtree}  # the trees of the folders being planned, top to bottom
        while stack:
            folder, rel, tree_id, entries = stack[-1]
            child = next(entries, None)
            if child is None:
                stack.pop()
                on_path.discard(tree_id)
                continue
            check_name(child.name)
            if child.kind in ("file", "dir"):
                self.count_entry()  # what a point's stats count; other kinds are leaves
            if self.too_long(folder, child):
                continue
            if child.kind != "dir":
                self.plan_leaf(child, folder)
                continue
            if child.subtree in on_path:
                raise UnsafePath(
                    f"the recovery point lists the folder {folder.path(child.name)} as its own"
                    " ancestor (a loop of trees): the vault is damaged or hostile; nothing below"
                    " it is restored"
                )
            sub_rel = rel + b"/" + child.name if rel else child.name
            sub = self.ensure_dir(folder, child.name, sub_rel)
            if sub is None:
                continue
            self.dirs.append((sub, child))
            grand = self.children(child, sub)
            if grand is not None:
                stack.append((sub, sub_rel, child.subtree, iter(grand)))
                on_path.add(child.subtree)

    def too_long(self, folder: Folder, node: Node) -> bool:
        """Whether the entry's name is longer than a name may be here (a vault written on
        another system, or a hostile one): then it is named in a warning and skipped."""
        if len(node.name) <= self.folders.name_max:
            return False
        what = "folder (and everything in it)" if node.kind == "dir" else node.kind
        self.reporter.warn(
            folder.path(node.name),
            f"{what} not restored: its name is {len(node.name)} bytes, longer than this file"
            f" system allows ({self.folders.name_max})",
        )
        return True

    def plan_leaf(self, node: Node, folder: Folder) -> None:
        if not self.special.allows_node(node.kind, folder.path(node.name)):
            return
        if self.too_long(folder, node):
            return
        try:
            name = self.place(folder, node)
        except OSError as e:
            if e.errno != errno.ENAMETOOLONG:
                raise
            self.reporter.warn(folder.path(node.name), "not restored: no copy name fits beside it")
            return
        if name is None:
            return
        if node.kind == "file":
            key = (node.dev, node.inode)
            if node.nlink > 1 and key in self.links:
                self.link_followers.append((folder, name, self.links[key], node))
                return
            # Written under a temporary name beside it, renamed to its real name (over the old
            # file, for overwrite) only when whole and its metadata set: a killed restore leaves
            # no half file under a real name.
            f = PlannedFile(node, folder, name, temp_name(), chunks_left=len(node.content))
            self.files.append(f)
            if node.nlink > 1:
                self.links[key] = f
            self.progress.bytes_total = (self.progress.bytes_total or 0) + node.size
            return
        shown = folder.path(name)
        with self.folders.held(folder) as fd, changed_guard(shown):
            if folder not in self.fresh:
                try:
                    os.unlink(name, dir_fd=fd)
                except FileNotFoundError:
                    pass
            if node.kind == "symlink" and node.target is None:
                self.reporter.warn(shown, "the symlink has no target: skipped")
                return
            if node.kind == "socket":
                self.reporter.warn(shown, "a socket is not restored (it is made by its server)")
                return
            try:
                if node.kind == "symlink":
                    os.symlink(node.target or b"", name, dir_fd=fd)
                else:
                    create_special(name, node.kind, node.mode, node.rdev, dir_fd=fd)  # type: ignore[arg-type]
            except (OSError, ValueError, OverflowError) as e:
                if isinstance(e, OSError) and e.errno in _CHANGED:
                    raise
                # A target with a NUL, a device number too big: no real file system has them.
                self.reporter.warn(shown, f"cannot create {node.kind}: {e}")
                return
            problems = apply_metadata_at(
                fd,
                name,
                os.fsencode(shown),
                kind=node.kind,  # type: ignore[arg-type]
                **self.metadata(node, shown),
            )
        for w in problems:
            self.reporter.warn(shown, w)

    # --- metadata ---------------------------------------------------------------------------------

    def metadata(self, node: Node, shown: str) -> dict[str, Any]:
        """What the fs layer's metadata appliers take, from a tree entry (less what the special
        filter withholds)."""
        if not self.options.permissions:
            full = node.kind == "dir" or node.mode & 0o111
            xattrs = {k: v for k, v in node.xattrs.items() if k not in ACL_XATTRS}
            return {
                "mode": (0o777 if full else 0o666) & ~self.umask,
                "mtime_ns": node.mtime_ns,
                "uid": node.uid,
                "gid": node.gid,
                "user": node.user,
                "group": node.group,
                "xattrs": self.special.xattrs(xattrs, shown),
                "set_owner": False,
            }

        return {
            "mode": self.special.mode(node.kind, node.mode, shown),
            "mtime_ns": node.mtime_ns,
            "uid": node.uid,
            "gid": node.gid,
            "user": node.user,
            "group": node.group,
            "xattrs": self.special.xattrs(node.xattrs, shown),
            "set_owner": self.set_owner,
        }

    def finish_dir(self, folder: Folder, node: Node) -> None:
        """A folder's own metadata, set through its descriptor once everything in it is done."""
        shown = folder.path()
        with self.folders.held(folder) as fd:
            problems = apply_metadata_fd(fd, os.fsencode(shown), **self.metadata(node, shown))
        for w in problems:
            self.reporter.warn(shown, w)
