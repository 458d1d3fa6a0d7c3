"""The POSIX account database (pwd, grp), shared by Linux and macOS."""

from __future__ import annotations

import grp
import pwd
import sys

assert sys.platform != "win32"  # tells mypy, too, that this module is POSIX only


def user_name(uid: int) -> str | None:
    try:
        return pwd.getpwuid(uid).pw_name
    except (KeyError, OverflowError):
        return None


def group_name(gid: int) -> str | None:
    try:
        return grp.getgrgid(gid).gr_name
    except (KeyError, OverflowError):
        return None


def user_id(name: str) -> int | None:
    try:
        return pwd.getpwnam(name).pw_uid
    except (KeyError, UnicodeEncodeError, ValueError):
        return None


def group_id(name: str) -> int | None:
    try:
        return grp.getgrnam(name).gr_gid
    except (KeyError, UnicodeEncodeError, ValueError):
        return None
