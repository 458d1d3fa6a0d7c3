"""Metadata of one path: read its xattrs and owner names; apply what a backup recorded.

Nothing here raises for a metadata problem on a file: it returns warning texts, which the engine
collects (a job that met some is "completed with warnings").
"""

from __future__ import annotations

import errno
import functools
import os
import stat
from collections.abc import Callable
from typing import NamedTuple

from cairn.fs import platform
from cairn.fs.walk import Kind

__all__ = [
    "apply_metadata",
    "apply_metadata_at",
    "apply_metadata_fd",
    "create_special",
    "owner_names",
    "read_xattrs",
]

# The errors that mean "no xattrs here": the platform or the filesystem has none.
_NO_XATTR_SUPPORT = frozenset({errno.ENOTSUP, errno.EOPNOTSUPP, getattr(errno, "ENOSYS", -1)})
_GONE = frozenset({errno.ENODATA, getattr(errno, "ENOATTR", errno.ENODATA)})


def read_xattrs(path: bytes) -> tuple[dict[str, bytes], list[str]]:
    """The extended attributes of `path` itself (a symlink's own), and warnings.

    Names are `str` (undecodable bytes kept by surrogateescape). Where xattrs are not supported,
    `({}, [])`, and so for a file that is gone (the backup's read of it names it, once). An
    attribute or a listing we may not read is a warning; one that vanished between listing and
    reading is left out.
    """
    try:
        names = platform.list_xattrs(path)
    except OSError as e:
        if e.errno in _NO_XATTR_SUPPORT or e.errno == errno.ENOENT:
            return {}, []  # none here, or the file is gone (its reader says so, once)
        return {}, [_warning(path, "cannot list extended attributes", e)]
    xattrs: dict[str, bytes] = {}
    warnings: list[str] = []
    for name in sorted(names):
        try:
            xattrs[name] = platform.get_xattr(path, name)
        except OSError as e:
            if e.errno not in _GONE:
                warnings.append(_warning(path, f"cannot read extended attribute {name!r}", e))
    return xattrs, warnings


@functools.lru_cache(maxsize=4096)
def _user_name(uid: int) -> str | None:
    return platform.user_name(uid)


@functools.lru_cache(maxsize=4096)
def _group_name(gid: int) -> str | None:
    return platform.group_name(gid)


@functools.lru_cache(maxsize=4096)
def _user_id(name: str) -> int | None:
    return platform.user_id(name)


@functools.lru_cache(maxsize=4096)
def _group_id(name: str) -> int | None:
    return platform.group_id(name)


def owner_names(uid: int, gid: int) -> tuple[str | None, str | None]:
    """The user and group names of `uid` and `gid` on this machine (`None` if unknown); cached."""
    return _user_name(uid), _group_name(gid)


def apply_metadata(
    path: bytes,
    *,
    kind: Kind,
    mode: int,
    mtime_ns: int,
    uid: int,
    gid: int,
    user: str | None,
    group: str | None,
    xattrs: dict[str, bytes],
    set_owner: bool,
) -> list[str]:
    """Give `path` the recorded metadata; return warnings, never raise for a metadata failure.

    Order: owner (only if `set_owner`; a name that exists here wins over the recorded number,
    since ids differ between machines), then xattrs, then the mode (chown clears set-id bits;
    skipped for symlinks, which Linux cannot chmod), then the mtime last, since the others may
    touch it; atime is set to the mtime. A symlink gets its own owner, xattrs and mtime.
    Existing xattrs that the backup did not record are left in place.
    """
    ops = _Ops(
        chown=lambda u, g: os.lchown(path, u, g),
        set_xattr=lambda name, value: platform.set_xattr(path, name, value),
        chmod=None if kind == "symlink" else lambda m: platform.chmod_nofollow(path, m),
        utime=lambda ns: os.utime(path, ns=(ns, ns), follow_symlinks=False),
    )
    return _apply(
        path, ops, mode, mtime_ns, _owner(uid, gid, user, group) if set_owner else None, xattrs
    )


class _Ops(NamedTuple):
    """How to set each piece of metadata on one target (a path, or an open descriptor)."""

    chown: Callable[[int, int], None]
    set_xattr: Callable[[str, bytes], None]
    chmod: Callable[[int], None] | None  # None: a symlink, which Linux cannot chmod
    utime: Callable[[int], None]


def _apply(
    path: bytes,
    ops: _Ops,
    mode: int,
    mtime_ns: int,
    owner: tuple[int, int] | None,
    xattrs: dict[str, bytes],
) -> list[str]:
    """The one order both appliers follow; every failure becomes a warning about `path`."""
    warnings: list[str] = []
    if owner is not None:
        try:
            ops.chown(*owner)
        except (OSError, OverflowError, TypeError, ValueError) as e:
            warnings.append(_warning(path, f"cannot set owner {owner[0]}:{owner[1]}", e))
    for name, value in xattrs.items():
        try:
            ops.set_xattr(name, value)
        except (OSError, OverflowError, TypeError, ValueError) as e:
            warnings.append(_warning(path, f"cannot set extended attribute {name!r}", e))
    if ops.chmod is not None:
        try:
            ops.chmod(stat.S_IMODE(mode))
        except (OSError, OverflowError, TypeError, ValueError) as e:
            warnings.append(_warning(path, f"cannot set mode {stat.S_IMODE(mode):04o}", e))
    try:
        ops.utime(mtime_ns)
    except (OSError, OverflowError, TypeError, ValueError) as e:
        warnings.append(_warning(path, "cannot set modification time", e))
    return warnings


def _owner(uid: int, gid: int, user: str | None, group: str | None) -> tuple[int, int]:
    """The ids to give a restored file: a recorded name that exists here wins over its number."""
    if user is not None and (named_uid := _user_id(user)) is not None:
        uid = named_uid
    if group is not None and (named_gid := _group_id(group)) is not None:
        gid = named_gid
    return uid, gid


def apply_metadata_fd(
    fd: int,
    path: bytes,
    *,
    mode: int,
    mtime_ns: int,
    uid: int,
    gid: int,
    user: str | None,
    group: str | None,
    xattrs: dict[str, bytes],
    set_owner: bool,
) -> list[str]:
    """`apply_metadata` for a regular file restore holds open: through its descriptor, so no
    path is resolved again (faster, and nothing can be swapped in between). `path` is for
    messages only. Same order and the same never-raise rule as `apply_metadata`."""
    ops = _Ops(
        chown=lambda u, g: os.fchown(fd, u, g),
        set_xattr=lambda name, value: os.setxattr(fd, name, value),
        chmod=lambda m: os.fchmod(fd, m),
        utime=lambda ns: os.utime(fd, ns=(ns, ns)),
    )
    return _apply(
        path, ops, mode, mtime_ns, _owner(uid, gid, user, group) if set_owner else None, xattrs
    )


def apply_metadata_at(
    dir_fd: int,
    name: bytes,
    shown: bytes,
    *,
    kind: Kind,
    mode: int,
    mtime_ns: int,
    uid: int,
    gid: int,
    user: str | None,
    group: str | None,
    xattrs: dict[str, bytes],
    set_owner: bool,
) -> list[str]:
    """`apply_metadata` for the entry `name` in the folder open as `dir_fd` (a symlink, a fifo or a
    device node restore just made there): every call is relative to `dir_fd` and none follows a
    symlink (`*at` with AT_SYMLINK_NOFOLLOW; xattrs through `/proc/self/fd/<dir_fd>/<name>`, whose
    last part is not followed), so no path is resolved that could lead elsewhere. `shown` is for
    messages only. Same order and the same never-raise rule as `apply_metadata`."""
    in_folder = b"/proc/self/fd/%d/" % dir_fd + name
    ops = _Ops(
        chown=lambda u, g: os.chown(name, u, g, dir_fd=dir_fd, follow_symlinks=False),
        set_xattr=lambda key, value: platform.set_xattr(in_folder, key, value),
        chmod=None
        if kind == "symlink"
        else lambda m: os.chmod(name, m, dir_fd=dir_fd, follow_symlinks=False),
        utime=lambda ns: os.utime(name, ns=(ns, ns), dir_fd=dir_fd, follow_symlinks=False),
    )
    return _apply(
        shown, ops, mode, mtime_ns, _owner(uid, gid, user, group) if set_owner else None, xattrs
    )


def create_special(
    path: bytes, kind: Kind, mode: int, rdev: int, *, dir_fd: int | None = None
) -> None:
    """Create a fifo or a device node at `path` (not following a symlink there); with `dir_fd`,
    `path` is one name in the folder open as `dir_fd`.

    The node is created with mode 0o600 (apply_metadata sets the recorded `mode` afterwards).
    Device nodes need root: otherwise `PermissionError`. A socket is not recreated: it belongs
    to the process that listened on it, so `ValueError`; as for any other kind.
    """
    if kind == "fifo":
        os.mkfifo(path, 0o600, dir_fd=dir_fd)
    elif kind in ("chardev", "blockdev"):
        if hasattr(os, "geteuid") and os.geteuid() != 0:
            raise PermissionError(errno.EPERM, "creating a device node needs root", path)
        file_type = stat.S_IFCHR if kind == "chardev" else stat.S_IFBLK
        os.mknod(path, file_type | 0o600, rdev, dir_fd=dir_fd)
    elif kind == "socket":
        raise ValueError(
            f"{_shown(path)}: a socket is not recreated by restore "
            "(it belongs to the program that listens on it, which creates it again)"
        )
    else:
        raise ValueError(f"{_shown(path)}: create_special does not create a {kind}")


def _shown(path: bytes) -> str:
    return path.decode("utf-8", "backslashreplace")


def _warning(path: bytes, what: str, error: Exception) -> str:
    reason = error.strerror if isinstance(error, OSError) else None
    return f"{_shown(path)}: {what}: {reason or error}"
