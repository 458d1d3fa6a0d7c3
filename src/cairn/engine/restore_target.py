"""Whether a restore can write where it is asked to: checked when the restore is asked for (the
agent's API checks a restore job's parameters with it, so the CLI and the console hear at once),
and again when it starts.

The target, or the nearest folder above it that exists when it does not exist yet, must be a
folder this process may write to (`os.access`, which also says no on a read-only file system,
even to root). The message names the target and the reason, and says what to do.
"""

from __future__ import annotations

import errno
import os

from cairn.core.errors import UsageError


def check_target(target: str) -> str:
    """The absolute target, or `UsageError` if a restore could not write there."""
    if not target or "\x00" in target:
        raise UsageError("name the folder to restore to")
    path = os.path.abspath(target)
    probe = path
    while not os.path.lexists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if not os.path.isdir(probe):
        shown = path if probe == path else f"{path} ({probe})"
        raise UsageError(f"the restore target {shown} is not a folder: choose a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        reason = "read-only file system" if _read_only(probe) else "permission denied"
        raise UsageError(
            f"the restore target {path} cannot be written ({reason}):"
            " choose another folder, or make it writable"
        )
    return path


def _read_only(path: str) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError as e:
        return e.errno == errno.EROFS
