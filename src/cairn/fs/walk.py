"""One directory level at a time: what is there, of what kind, with its lstat.

The engine drives the walk (it decides, per entry, whether to descend), so this module only
lists: `stat_entry` for a backup item itself, `list_dir` for a directory's entries. Only an item
that is a symlink to a folder is followed (as restic and tar do for the paths they are given);
nothing inside the tree is. Paths and names are `bytes`, since names need not be valid UTF-8.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import Literal

Kind = Literal["file", "dir", "symlink", "fifo", "socket", "chardev", "blockdev"]

_KINDS: dict[int, Kind] = {
    stat.S_IFREG: "file",
    stat.S_IFDIR: "dir",
    stat.S_IFLNK: "symlink",
    stat.S_IFIFO: "fifo",
    stat.S_IFSOCK: "socket",
    stat.S_IFCHR: "chardev",
    stat.S_IFBLK: "blockdev",
}


@dataclass(frozen=True, slots=True)
class FsEntry:
    name: bytes  # the raw name (b"" for the root "/")
    path: bytes  # absolute path
    kind: Kind
    st: os.stat_result  # lstat result: never follows a symlink


def kind_of(st_mode: int) -> Kind:
    """The kind of a file from its `st_mode`; `ValueError` for a type outside `Kind`.

    Linux has no other types; Solaris doors and BSD whiteouts would raise.
    """
    try:
        return _KINDS[stat.S_IFMT(st_mode)]
    except KeyError:
        raise ValueError(f"unknown file type {stat.S_IFMT(st_mode):#o}") from None


def stat_entry(path: bytes) -> FsEntry:
    """lstat one path (a backup item itself); the entry's path is `os.path.abspath(path)`.

    An item that is a symlink to a folder is followed: the entry is that folder (kind "dir", its
    stat), kept under the item's own path and name, so a backup of `/srv/projects ->
    /data/projects` stores the folder's contents as `/srv/projects`. A symlink to anything else,
    or a dangling one, stays a symlink. Raises `OSError` (`FileNotFoundError`, ...) as `os.lstat`.
    """
    path = os.path.abspath(path)
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        try:
            target = os.stat(path)
        except OSError:
            target = None
        if target is not None and stat.S_ISDIR(target.st_mode):
            st = target
    return FsEntry(os.path.basename(path), path, kind_of(st.st_mode), st)


def list_dir(path: bytes) -> list[FsEntry]:
    """The entries of directory `path`, sorted by name bytes, each with its lstat.

    Raises `OSError` if the directory cannot be listed, or if an entry cannot be stat'ed (a
    directory readable but not searchable). An entry that vanishes between the listing and its
    stat is left out: it is not there any more.
    """
    entries: list[FsEntry] = []
    with os.scandir(path) as listing:
        for item in listing:
            try:
                st = item.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            entries.append(FsEntry(item.name, item.path, kind_of(st.st_mode), st))
    entries.sort(key=lambda entry: entry.name)
    return entries
