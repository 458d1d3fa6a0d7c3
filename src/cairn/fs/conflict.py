"""Restore's "keep both" naming, as MARS does it: `YYYY-MM-DD HH-mm Copy of NAME`."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime

__all__ = ["copy_name"]


def copy_name(
    directory: bytes | int,
    name: bytes,
    when: datetime,
    identical: Callable[[bytes], bool] | None = None,
) -> bytes | None:
    """The name (not the path) under which to restore `name` beside an existing one.

    The first of `2026-03-05 14-07 Copy of NAME`, `2026-03-05 14-07 Copy (2) of NAME`,
    `... Copy (3) of NAME`, ... that nothing in `directory` is called (lstat, so a dangling
    symlink counts as taken). `directory` is a path, or the descriptor of the folder (restore's
    way: then `identical` is given names in it, not paths). `when` is the recovery point's time
    in the local zone, converted by the caller. None if `identical` says an existing copy on the
    way is already what would be restored (restoring twice makes no second copy). A name made
    too long for the filesystem raises `OSError` (ENAMETOOLONG).
    """
    stamp = when.strftime("%Y-%m-%d %H-%M").encode("ascii")
    copy = 1
    while True:
        label = b"Copy of " if copy == 1 else b"Copy (%d) of " % copy
        candidate = stamp + b" " + label + name
        if isinstance(directory, int):
            path = candidate
            stat_at: dict[str, int] = {"dir_fd": directory}
        else:
            path = os.path.join(directory, candidate)
            stat_at = {}
        try:
            os.stat(path, follow_symlinks=False, **stat_at)
        except FileNotFoundError:
            return candidate
        if identical is not None and identical(path):
            return None
        copy += 1
