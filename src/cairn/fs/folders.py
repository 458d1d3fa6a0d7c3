"""Folders a restore writes in, each reached from its parent's descriptor by one name.

A restore never hands the kernel a path longer than one name below a directory it holds open:
every folder is opened (`O_DIRECTORY | O_NOFOLLOW`) relative to its parent's descriptor, and
every file, link, special file, rename and metadata change is made relative to the folder's
descriptor (`dir_fd=`, `follow_symlinks=False`). So nothing resolves a path that a local user
could change during the restore: a folder swapped for a symlink fails to open (ELOOP) instead of
leading elsewhere, and a folder swapped for another real folder is noticed by its identity
(device and inode, recorded when restore first opened or made it). And, since no full path is
ever passed, a tree deeper than PATH_MAX restores whole.

`Folders` keeps a bounded number of descriptors open (least recently used closed first, never
one in use: `with folders.held(folder) as fd:` pins it), so restoring a million folders needs no
million descriptors; a folder closed is opened again from its nearest open ancestor, name by name,
each checked against its recorded identity.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from cairn.core.errors import UnsafeTarget

__all__ = ["DIR_FLAGS", "Folder", "Folders"]

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
OPEN_AT_MOST = 64


class Folder:
    """One folder of a restore: its parent, its name there, and its identity."""

    __slots__ = ("dev", "follow", "inode", "name", "parent", "shown")

    def __init__(
        self, parent: Folder | None, name: bytes, shown: bytes, dev: int, inode: int, follow: bool
    ) -> None:
        self.parent = parent
        self.name = name
        self.shown = shown  # its path, for messages only; never given to a system call
        self.dev = dev
        self.inode = inode
        self.follow = follow  # reached through a symlink of the machine's own (an item's ancestor)

    def path(self, name: bytes = b"") -> str:
        """The path of this folder (or of `name` in it), for messages."""
        return os.fsdecode(os.path.join(self.shown, name) if name else self.shown)


class Folders:
    """The open descriptors of a restore's folders; thread-safe."""

    def __init__(self, root: bytes) -> None:
        # The target itself (or "/") is trusted as it is: a symlink to it is followed.
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        st = os.fstat(fd)
        self.root = Folder(None, b"", root, st.st_dev, st.st_ino, True)
        try:
            self.name_max = os.fpathconf(fd, "PC_NAME_MAX")
        except (OSError, ValueError):
            self.name_max = 255
        self.lock = threading.Lock()
        self.fds: OrderedDict[Folder, int] = OrderedDict({self.root: fd})
        self.pins: dict[Folder, int] = {self.root: 1}  # the root stays open until close()

    @contextmanager
    def held(self, folder: Folder) -> Iterator[int]:
        """The folder's descriptor, kept open while the block runs."""
        fd = self.acquire(folder)
        try:
            yield fd
        finally:
            self.release(folder)

    def acquire(self, folder: Folder) -> int:
        with self.lock:
            fd = self._open(folder)
            self.pins[folder] = self.pins.get(folder, 0) + 1
            self._trim()
            return fd

    def release(self, folder: Folder) -> None:
        with self.lock:
            left = self.pins[folder] - 1
            if left:
                self.pins[folder] = left
            else:
                del self.pins[folder]

    def add(self, parent: Folder, name: bytes, fd: int, follow: bool = False) -> Folder:
        """Adopt `fd`, just opened as `name` in `parent`, as a folder of the restore."""
        st = os.fstat(fd)
        folder = Folder(
            parent, name, os.path.join(parent.shown, name), st.st_dev, st.st_ino, follow
        )
        with self.lock:
            self.fds[folder] = fd
            self._trim()
        return folder

    def close(self) -> None:
        with self.lock:
            for fd in self.fds.values():
                os.close(fd)
            self.fds.clear()
            self.pins.clear()

    def _open(self, folder: Folder) -> int:
        """The folder's descriptor, opened again from its nearest open ancestor if closed."""
        chain: list[Folder] = []
        at: Folder | None = folder
        while at is not None and at not in self.fds:
            chain.append(at)
            at = at.parent
        if at is None:
            raise UnsafeTarget("restore lost track of its target folder")  # the root was closed
        self.fds.move_to_end(at)
        fd = self.fds[at]
        owned = False  # whether `fd` was opened here only to reach the folder below it
        keep_from = len(chain) - OPEN_AT_MOST // 2  # a long chain keeps its lower folders open
        for depth, sub in enumerate(reversed(chain)):
            try:
                child = self._open_child(fd, sub)
            finally:
                if owned:
                    os.close(fd)
            fd = child
            owned = depth < keep_from
            if not owned:
                self.fds[sub] = fd
        return fd

    def _open_child(self, parent_fd: int, sub: Folder) -> int:
        flags = DIR_FLAGS & ~os.O_NOFOLLOW if sub.follow else DIR_FLAGS
        try:
            fd = os.open(sub.name, flags, dir_fd=parent_fd)
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT):
                raise UnsafeTarget(
                    f"{sub.path()} was moved, removed or replaced (by a symlink or a file) while"
                    " the restore ran: stopped, so nothing is written where it does not belong;"
                    " restore again"
                ) from None
            raise
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != (sub.dev, sub.inode) or not stat.S_ISDIR(st.st_mode):
            os.close(fd)
            raise UnsafeTarget(
                f"{sub.path()} was replaced by another folder while the restore ran: stopped,"
                " so nothing is written where it does not belong; restore again"
            )
        return fd

    def _trim(self) -> None:
        """Close the least recently used descriptors not in use, down to OPEN_AT_MOST."""
        if len(self.fds) <= OPEN_AT_MOST:
            return
        for folder in list(self.fds):
            if len(self.fds) <= OPEN_AT_MOST:
                break
            if folder in self.pins:
                continue
            os.close(self.fds.pop(folder))
