"""What restore withholds from another machine's recovery point unless `--restore-special`.

Restoring as root, a point written by another machine (or by whoever holds its key) could plant a
device node (raw access to a disk), a setuid-root program or a file capability
(`security.capability`: a privilege without the setuid bit) on this machine. So for such a point
restore by default creates no device nodes, clears the setuid and setgid bits of everything but
folders (a setgid folder only passes its group on), and drops `security.capability`; each kind
withheld is one warning, with how many and the first path, naming `--restore-special`, which
restores them as stored. A machine's own points are restored as stored.
"""

from __future__ import annotations

import stat
import threading

from cairn.core.events import Reporter

__all__ = ["CAPABILITY_XATTR", "SpecialFilter"]

CAPABILITY_XATTR = "security.capability"
DEVICES = ("chardev", "blockdev")
_SET_ID = stat.S_ISUID | stat.S_ISGID

_WHAT = {
    "device": "device node(s) not created",
    "setid": "file(s) restored without their setuid/setgid bits",
    "capability": "file(s) restored without their file capabilities (security.capability)",
}


class SpecialFilter:
    """Decides, entry by entry, what to withhold; thread-safe; reports once per kind."""

    def __init__(self, restore_special: bool) -> None:
        self.allowed = restore_special
        self.withheld: dict[str, list[str]] = {}
        self.lock = threading.Lock()

    def _note(self, kind: str, path: str) -> None:
        with self.lock:
            self.withheld.setdefault(kind, []).append(path)

    def allows_node(self, kind: str, path: str) -> bool:
        """False for a device node that is not to be created."""
        if self.allowed or kind not in DEVICES:
            return True
        self._note("device", path)
        return False

    def mode(self, kind: str, mode: int, path: str) -> int:
        if self.allowed or kind == "dir" or not mode & _SET_ID:
            return mode
        self._note("setid", path)
        return mode & ~_SET_ID

    def xattrs(self, xattrs: dict[str, bytes], path: str) -> dict[str, bytes]:
        if self.allowed or CAPABILITY_XATTR not in xattrs:
            return xattrs
        self._note("capability", path)
        return {k: v for k, v in xattrs.items() if k != CAPABILITY_XATTR}

    def report(self, reporter: Reporter) -> None:
        for kind, paths in self.withheld.items():
            reporter.warn(
                paths[0],
                f"{len(paths)} {_WHAT[kind]}, as this is another machine's recovery point"
                f" (first: {paths[0]}); give --restore-special to restore them as stored",
            )
