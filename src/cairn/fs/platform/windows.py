"""Windows (a stub, not yet tested there): case-insensitive names; no POSIX owners or xattrs."""

from __future__ import annotations

import errno
import os

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
    raise OSError(errno.ENOTSUP, "extended attributes are not supported on Windows", path)


def get_xattr(path: bytes, name: str) -> bytes:
    raise OSError(errno.ENOTSUP, "extended attributes are not supported on Windows", path)


def set_xattr(path: bytes, name: str, value: bytes) -> None:
    raise OSError(errno.ENOTSUP, "extended attributes are not supported on Windows", path)


def chmod_nofollow(path: bytes, mode: int) -> None:
    os.chmod(path, mode)


def user_name(uid: int) -> str | None:
    return None


def group_name(gid: int) -> str | None:
    return None


def user_id(name: str) -> int | None:
    return None


def group_id(name: str) -> int | None:
    return None
