"""Restore's planning: folders, names, conflicts and the entries to write, from the trees.

The vault is untrusted: every name is checked (no `..`, no `/`, no NUL), every folder is created or
found as a real directory (a planted symlink is refused), a folder listed twice or as its own
ancestor stops the restore, and so does a tree expanding far past the entries the point records.
A folder whose tree cannot be read is named and skipped. Trees are walked with an explicit stack,
so any depth plans without recursion. Each file to write gets a temporary name in its folder
(`fs.safety.temp_name`); `restore.py` writes the data and renames it when whole.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cairn.core.errors import BlobNotFound, CairnError, DamageFound, IntegrityError, UnsafePath
from cairn.core.events import Progress, Reporter
from cairn.engine.special import SpecialFilter
from cairn.fs.conflict import copy_name
from cairn.fs.metadata import apply_metadata, create_special
from cairn.fs.safety import check_name, remove_stale_temps, temp_name
from cairn.vault.index import Index
from cairn.vault.points import RecoveryPoint
from cairn.vault.repository import Repository
from cairn.vault.tree import Node

CONFLICTS = ("copy", "overwrite", "skip")
EXPANSION_SLACK = 10_000
PATH_MAX = 4096  # Linux's limit on a path given to a system call, its NUL included
NAME_MARGIN = 64  # room for a temporary's or a copy's longer name beside a file


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
    dest: bytes
    write_to: bytes
    chunks_left: int = 0
    length: int = 0  # the sum of its chunks' lengths: the restored file's size
    fd: int = -1
    created: bool = False
    damaged: bool = False
    problem: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)


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


def _open_nofollow(path: str | bytes, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)


class Planner:
    """Plans a restore: makes the folders, decides each entry's name, writes links and special
    files at once, and lists the regular files for the writer (a subclass) to fill."""

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
        self.dirs: list[tuple[bytes, Node]] = []
        self.links: dict[tuple[int, int], PlannedFile] = {}
        self.link_followers: list[tuple[bytes, PlannedFile, Node]] = []
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
            remove_stale_temps(path)
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
        if self.identical(dest, node):
            self.result.identical += 1  # already what the point holds: no copy, no rewrite
            return None
        if self.options.conflict == "copy":
            name = copy_name(directory, node.name, self.when, lambda p: self.identical(p, node))
            if name is None:
                self.result.identical += 1
                return None
            self.result.copies += 1
            return os.path.join(directory, name)
        if stat.S_ISDIR(st.st_mode):
            self.reporter.warn(os.fsdecode(dest), "a folder is in the way of a file: skipped")
            return None
        self.result.overwrites += 1
        return dest

    def identical(self, path: bytes, node: Node) -> bool:
        """Whether `path` already is the point's file or link: same kind, size, mode (set-id
        bits aside) and modification time, and, for a file, every chunk's keyed hash."""
        try:
            st = os.lstat(path)
            if node.kind == "symlink":
                return stat.S_ISLNK(st.st_mode) and os.readlink(path) == node.target
            if node.kind != "file" or not stat.S_ISREG(st.st_mode):
                return False
            if (st.st_size, st.st_mtime_ns) != (node.size, node.mtime_ns) or (
                stat.S_IMODE(st.st_mode) & 0o1777 != stat.S_IMODE(node.mode) & 0o1777
            ):
                return False
            with open(path, "rb", opener=_open_nofollow) as f:
                for cid in node.content:
                    loc = self.index.get(cid)
                    if loc is None or self.repo.hasher.id_of(f.read(loc.raw_length)) != cid:
                        return False
                return f.read(1) == b""
        except OSError:
            return False

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

    def children(self, node: Node, directory: bytes) -> list[Node] | None:
        """A folder's entries; None (the folder named as damaged) if its tree cannot be read."""
        try:
            if node.subtree is None:
                raise IntegrityError("the entry is a folder without a listing")
            children = self.repo.load_tree(self.index, node.subtree)
        except (IntegrityError, BlobNotFound) as e:
            shown = os.fsdecode(directory)
            self.result.damaged.append(shown)
            self.reporter.warn(shown, f"folder not restored: its listing is damaged: {e}")
            return None
        if len({c.name for c in children}) != len(children):
            raise UnsafePath(
                f"the recovery point names one entry twice in {os.fsdecode(directory)}: the vault"
                " is damaged or hostile"
            )
        return children

    def too_long(self, path: bytes, node: Node) -> None:
        shown = os.fsdecode(path)
        if len(shown) > 200:
            shown = shown[:80] + " ... " + shown[-80:]
        what = "folder (and everything in it)" if node.kind == "dir" else node.kind
        self.reporter.warn(
            shown,
            f"{what} not restored: its path would be {len(path)} bytes, longer than the system"
            f" allows ({PATH_MAX}); restore the folder deepest above it with a short --target",
        )

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

    def plan_dir(self, node: Node, directory: bytes, rel: bytes) -> None:
        """Plan everything under one folder, depth first with an explicit stack (a tree any
        number of folders deep needs no recursion); a damaged subfolder is named and skipped."""
        top = self.children(node, directory)
        if top is None:
            return
        stack: list[tuple[bytes, bytes, bytes | None, Iterator[Node]]] = [
            (directory, rel, node.subtree, iter(top))
        ]
        on_path = {node.subtree}  # the trees of the folders being planned, top to bottom
        while stack:
            directory, rel, tree_id, entries = stack[-1]
            child = next(entries, None)
            if child is None:
                stack.pop()
                on_path.discard(tree_id)
                continue
            check_name(child.name)
            if child.kind in ("file", "dir"):
                self.count_entry()  # what a point's stats count; other kinds are leaves
            sub = os.path.join(directory, child.name)
            if len(sub) + (0 if child.kind == "dir" else NAME_MARGIN) >= PATH_MAX:
                self.too_long(sub, child)
                continue
            if child.kind != "dir":
                self.plan_leaf(child, directory)
                continue
            if child.subtree in on_path:
                raise UnsafePath(
                    f"the recovery point lists the folder {os.fsdecode(sub)} as its own ancestor"
                    " (a loop of trees): the vault is damaged or hostile; nothing below it is"
                    " restored"
                )
            sub_rel = rel + b"/" + child.name if rel else child.name
            if not self.ensure_dir(sub, sub_rel):
                continue
            self.dirs.append((sub, child))
            grand = self.children(child, sub)
            if grand is not None:
                stack.append((sub, sub_rel, child.subtree, iter(grand)))
                on_path.add(child.subtree)

    def plan_leaf(self, node: Node, directory: bytes) -> None:
        if not self.special.allows_node(node.kind, os.fsdecode(os.path.join(directory, node.name))):
            return
        dest = self.place(directory, node)
        if dest is None:
            return
        if node.kind == "file":
            key = (node.dev, node.inode)
            if node.nlink > 1 and key in self.links:
                self.link_followers.append((dest, self.links[key], node))
                return
            # Written under a temporary name beside it, renamed to its real name (over the old
            # file, for overwrite) only when whole and its metadata set: a killed restore leaves
            # no half file under a real name.
            write_to = os.path.join(directory, temp_name())
            f = PlannedFile(node, dest, write_to, chunks_left=len(node.content))
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

    # --- metadata ---------------------------------------------------------------------------------

    def metadata(self, node: Node, path: bytes) -> dict[str, Any]:
        """What the fs layer's metadata appliers take, from a tree entry (less what the special
        filter withholds)."""
        shown = os.fsdecode(path)
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

    def finish_metadata(self, path: bytes, node: Node) -> None:
        for w in apply_metadata(path, kind=node.kind, **self.metadata(node, path)):  # type: ignore[arg-type]
            self.reporter.warn(os.fsdecode(path), w)
