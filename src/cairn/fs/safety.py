"""Restore's guard: the vault is untrusted, so no entry may write outside the restore target.

A hostile or damaged vault could name an entry `..`, `/etc`, or `a/b` (a slash inside one name),
or first restore a symlink `x -> /etc` and then a file `x/passwd`. So every name is checked, every
existing directory on the way down must be a real directory (not a symlink), and the file itself
is opened with O_NOFOLLOW. Restore itself goes further: it opens each folder relative to its
parent's descriptor and writes relative to the folder's (`fs/folders.py`), so a local user who can
write in the target while a restore runs cannot swap a directory for a symlink between check and
use; `create_new` and `remove_stale_temps` take such a descriptor. `safe_join` and
`open_for_restore` are the path-based checks, for callers that hold no descriptor.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
import time
from collections.abc import Sequence

from cairn.core.errors import UnsafePath

__all__ = [
    "TEMP_PREFIX",
    "check_name",
    "create_new",
    "open_for_restore",
    "remove_stale_temps",
    "safe_join",
    "temp_name",
]

# A file being restored is written under `.cairn-restore-<pid>-<random>` in its own folder and
# renamed to its real name only when whole, so a killed restore never leaves a half file under
# a real name; the next restore removes what a dead one left.
TEMP_PREFIX = b".cairn-restore-"
STALE_AFTER_S = 24 * 3600


def check_name(name: bytes) -> None:
    """Raise `UnsafePath` unless `name` is one plain path part (not empty, `.`, `..`, no `/`
    or NUL)."""
    if not name:
        raise UnsafePath("the vault names an entry with an empty name")
    if name in (b".", b".."):
        raise UnsafePath(f"the vault names an entry {_shown(name)!r}")
    if b"/" in name:
        raise UnsafePath(f"the vault names an entry with a '/' in its name: {_shown(name)!r}")
    if b"\0" in name:
        raise UnsafePath(f"the vault names an entry with a NUL in its name: {_shown(name)!r}")


def safe_join(root: bytes, parts: Sequence[bytes]) -> bytes:
    """`root` joined with `parts`, each a checked name, with no symlink on the way.

    `root` is an existing directory (the restore target, or `b"/"` for the original location)
    and is trusted as it is. Every component under it but the last that already exists must be
    a real directory: a symlink raises `UnsafePath` naming it; another kind of file raises
    `NotADirectoryError` (something local is in the way; the vault is not to blame). The last
    component is not checked here: open it with `open_for_restore`, or create it with a call
    that does not follow a symlink (mkdir, mkfifo, symlink).
    """
    for part in parts:
        check_name(part)
    path = root
    for depth, part in enumerate(parts):
        path = os.path.join(path, part)
        if depth == len(parts) - 1:
            break
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue  # created later, by the restore itself, as a real directory
        if stat.S_ISLNK(st.st_mode):
            raise UnsafePath(
                f"{_shown(path)} is a symlink; restore does not write through it "
                "(it could lead outside the restore target)"
            )
        if not stat.S_ISDIR(st.st_mode):
            raise NotADirectoryError(errno.ENOTDIR, "is in the way of a folder to restore", path)
    return path


def open_for_restore(path: bytes, *, truncate: bool) -> int:
    """Open `path` to write a restored file into; return the descriptor.

    Creates the file with mode 0o600 (apply_metadata sets the recorded mode later). Refuses a
    symlink at `path` with `UnsafePath` (O_NOFOLLOW), and anything that exists there but is not
    a regular file with `FileExistsError` (opening a fifo or a device could block or act on
    hardware). Other failures raise `OSError` as os.open does.
    """
    try:
        existing = os.lstat(path)
    except FileNotFoundError:
        pass
    else:
        if stat.S_ISLNK(existing.st_mode):
            raise _symlink_refused(path)
        if not stat.S_ISREG(existing.st_mode):
            raise FileExistsError(errno.EEXIST, "exists and is not a regular file", path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    if truncate:
        flags |= os.O_TRUNC
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise _symlink_refused(path) from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise FileExistsError(errno.EEXIST, "exists and is not a regular file", path)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def create_new(path: bytes, dir_fd: int | None = None) -> int:
    """Create a new regular file at `path` for restore and return its descriptor (mode 0o600).

    O_EXCL|O_NOFOLLOW: fails with `FileExistsError` if anything at all is there (a file, a
    symlink, a fifo), so nothing existing is ever written through. For names restore has already
    found free (in a folder it created, or a fresh temp name): one system call. With `dir_fd`,
    `path` is a name in the folder open as `dir_fd`.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    return os.open(path, flags, 0o600, dir_fd=dir_fd)


def temp_name() -> bytes:
    """A fresh name (not a path) to write a file being restored under, in its own folder."""
    return TEMP_PREFIX + b"%d-" % os.getpid() + secrets.token_hex(6).encode()


def remove_stale_temps(directory: bytes | int) -> int:
    """Remove the temporaries a killed restore left in `directory` (a path, or the descriptor of
    an open folder); return how many.

    A temporary is stale when the process named in it is gone (or it is a day old, or it has
    no process in its name); one being written by a living restore is left alone. Only regular
    files are removed, never through a symlink.
    """
    removed = 0
    entries: list[os.DirEntry[str]] | list[os.DirEntry[bytes]]
    try:
        if isinstance(directory, int):
            with os.scandir(directory) as by_fd:
                entries = list(by_fd)
        else:
            with os.scandir(directory) as by_path:
                entries = list(by_path)
    except OSError:
        return 0
    now = time.time()
    for entry in entries:
        name = os.fsencode(entry.name)  # str when listed through a descriptor
        if not name.startswith(TEMP_PREFIX):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        if _writer_alive(name[len(TEMP_PREFIX) :]) and now - st.st_mtime < STALE_AFTER_S:
            continue
        try:
            if isinstance(directory, int):
                os.unlink(name, dir_fd=directory)
            else:
                os.unlink(os.path.join(directory, name))
            removed += 1
        except OSError:
            pass
    return removed


def _writer_alive(rest: bytes) -> bool:
    pid_text, sep, _ = rest.partition(b"-")
    if not sep or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True  # this process: another restore of it is writing (the agent runs jobs)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _symlink_refused(path: bytes) -> UnsafePath:
    return UnsafePath(f"{_shown(path)} is a symlink; restore does not write through it")


def _shown(path: bytes) -> str:
    return path.decode("utf-8", "backslashreplace")
