"""macOS (a stub, not yet tested there): case-insensitive names, native lchmod, no xattrs yet.

`os` has no xattr functions on macOS; they need getxattr(2) through ctypes (a later issue).
"""

from __future__ import annotations

import errno
import os

from cairn.fs.platform.accounts import group_id, group_name, user_id, user_name

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
    return False


def list_xattrs(path: bytes) -> list[str]:
    raise OSError(errno.ENOTSUP, "extended attributes are not supported here yet", path)


def get_xattr(path: bytes, name: str) -> bytes:
    raise OSError(errno.ENOTSUP, "extended attributes are not supported here yet", path)


def set_xattr(path: bytes, name: str, value: bytes) -> None:
    raise OSError(errno.ENOTSUP, "extended attributes are not supported here yet", path)


def chmod_nofollow(path: bytes, mode: int) -> None:
    os.chmod(path, mode, follow_symlinks=False)
