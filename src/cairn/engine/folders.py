"""This machine's folders, one level at a time: what the Schedule Backup wizard's item browser shows.

`list_folder(path)` reads one folder with `os.scandir`, never following a symlink (a link is shown
as a link and not entered), sorted folders first and then by name, at most `limit` entries (the
listing says when it stopped). A path that is not absolute, does not exist, is not a folder or
cannot be read is a `UsageError` naming it and the reason, in words a person understands. A name
that is not valid Unicode is shown with its bytes escaped and marked not `usable` (no policy can
name it).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from cairn.core.errors import UsageError

DEFAULT_LIMIT = 2000


@dataclass(frozen=True, slots=True)
class FolderEntry:
    name: str
    path: str
    kind: str  # "dir", "file", "symlink" or "other"
    size: int
    usable: bool = True  # False: the name is not valid Unicode, so no policy can name it


@dataclass(frozen=True, slots=True)
class FolderListing:
    path: str
    parent: str | None  # None at the root
    entries: tuple[FolderEntry, ...]
    truncated: bool  # more entries than the limit: only the first `limit` (by name) are listed


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "other"


def _entry(folder: str, name: str, kind: str, size: int) -> FolderEntry:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # surrogate escapes of a name that is not UTF-8
        shown = os.fsencode(name).decode("utf-8", "backslashreplace")
        return FolderEntry(shown, os.path.join(folder, shown), kind, size, usable=False)
    return FolderEntry(name, os.path.join(folder, name), kind, size)


def list_folder(path: str, limit: int = DEFAULT_LIMIT) -> FolderListing:
    """One folder's entries (see the module doc)."""
    if not path or "\x00" in path:
        raise UsageError("give the folder to open as an absolute path, like /home")
    if not os.path.isabs(path):
        raise UsageError(f"{path!r} is not an absolute path; give one like /home/you")
    path = os.path.normpath(path)
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise UsageError(f"{path} does not exist") from None
    except OSError as e:
        raise UsageError(f"cannot open {path}: {e.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{path} is not a folder")
    entries: list[FolderEntry] = []
    try:
        with os.scandir(path) as it:
            for entry in it:
                try:
                    est = entry.stat(follow_symlinks=False)
                except OSError:
                    continue  # gone since the listing: not shown
                kind = _kind(est.st_mode)
                size = est.st_size if kind == "file" else 0
                entries.append(_entry(path, entry.name, kind, size))
    except PermissionError:
        raise UsageError(f"cannot open {path}: permission denied") from None
    except OSError as e:
        raise UsageError(f"cannot open {path}: {e.strerror}") from None
    entries.sort(key=lambda e: (e.kind != "dir", e.name.casefold(), e.name))
    parent = None if path == "/" else os.path.dirname(path)
    return FolderListing(path, parent, tuple(entries[:limit]), len(entries) > limit)
