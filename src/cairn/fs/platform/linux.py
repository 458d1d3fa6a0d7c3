"""Linux: case-sensitive names, xattrs through `os`, chmod that never follows a symlink."""

from __future__ import annotations

import errno
import os
import stat
import sys

from cairn.fs.platform.accounts import group_id, group_name, user_id, user_name

assert sys.platform == "linux"  # tells mypy, too, that this module is Linux only

__all__ = [
    "case_sensitive_default",
    "chmod_nofollow",
    "get_xattr",
    "group_id",
    "group_name",
    "list_xattrs",
    "set_xattr",
    "user_id",
    "user_name",
]


def case_sensitive_default() -> bool:
    return True


def list_xattrs(path: bytes) -> list[str]:
    return os.listxattr(path, follow_symlinks=False)


def get_xattr(path: bytes, name: str) -> bytes:
    return os.getxattr(path, name, follow_symlinks=False)


def set_xattr(path: bytes, name: str, value: bytes) -> None:
    os.setxattr(path, name, value, follow_symlinks=False)


def chmod_nofollow(path: bytes, mode: int) -> None:
    """chmod `path` itself: if it is (or became) a symlink, raise ELOOP rather than follow it.

    Linux has no lchmod; as glibc does, open the path with O_PATH|O_NOFOLLOW and chmod the
    descriptor through /proc/self/fd, so a symlink swapped in after a check cannot redirect it.
    """
    fd = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        if stat.S_ISLNK(os.fstat(fd).st_mode):
            raise OSError(errno.ELOOP, "is a symlink; its mode is not set", path)
        proc_path = f"/proc/self/fd/{fd}"
        if os.path.exists(proc_path):
            os.chmod(proc_path, mode)
        else:  # no /proc: fall back to a plain chmod of what was just checked
            os.chmod(path, mode)
    finally:
        os.close(fd)
