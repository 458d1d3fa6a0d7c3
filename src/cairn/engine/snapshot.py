"""Read the items from btrfs snapshots, so a recovery point is one moment of a live subvolume.

The backup walks live paths (those a recovery point records) through a `SourceView`: each path is
read at the same place in a read-only snapshot of the subvolume that holds it. `BtrfsSnapshots`
makes those snapshots when it is entered (one per subvolume an item lies in, named
`.cairn-snapshot-<pid>-<token>` in the subvolume's own root, the one place a snapshot of it can
go), makes one more for each nested subvolume the walk meets (a snapshot holds an empty folder
where a nested subvolume was), and deletes them all when it is left. A snapshot left by a killed
backup (its pid gone) is deleted by the next one.

Inode numbers, times and sizes are those of the live files; only the device number differs (each
snapshot is a device of its own): the view maps it back to the live subvolume's, so change
detection keeps trusting unchanged files and the next backup reads only what changed.
"""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
from collections.abc import Callable
from dataclasses import replace
from types import TracebackType

from cairn.core.errors import SnapshotFailed
from cairn.fs.walk import FsEntry, stat_entry
from cairn.policy.snapshot import SnapshotRule

SUBVOLUME_ROOT_INO = 256  # BTRFS_FIRST_FREE_OBJECTID: the root folder of every subvolume
EMPTY_SUBVOLUME_INO = 2  # the empty folder a snapshot holds where a nested subvolume was
PREFIX = b".cairn-snapshot-"
BTRFS = "btrfs"


class SourceView:
    """Where the backup reads each live path. This one reads the live files themselves."""

    def read_path(self, live: bytes) -> bytes:
        return live

    def live_path(self, read: bytes) -> bytes:
        return read

    def dev(self, st_dev: int) -> int:
        return st_dev

    def child(self, fs: FsEntry) -> FsEntry | None:
        """The entry to back up for a child the walk listed (None: not part of the data)."""
        return fs


LIVE = SourceView()

Warn = Callable[[str, str], None]
Run = Callable[[list[str]], tuple[int, str]]


def _run(args: list[str]) -> tuple[int, str]:
    try:
        done = subprocess.run(
            args, stdin=subprocess.DEVNULL, capture_output=True, timeout=300, check=False
        )
    except FileNotFoundError:
        return 127, f"{args[0]} is not installed (Debian: apt-get install btrfs-progs)"
    except subprocess.TimeoutExpired:
        return 124, f"{' '.join(args[:3])} took over 300 s"
    text = (done.stderr or done.stdout).decode(errors="replace").strip()
    return done.returncode, text.splitlines()[-1] if text else f"exit {done.returncode}"


def subvolume_root(path: bytes) -> bytes | None:
    """The root of the btrfs subvolume that holds `path` (the highest folder above it on the same
    device, which is inode 256 on btrfs), or None where it is not on btrfs."""
    here = os.path.abspath(path)
    try:
        st = os.lstat(here)
        if not stat.S_ISDIR(st.st_mode):
            here = os.path.dirname(here)
            st = os.lstat(here)
        while here != b"/":
            parent = os.path.dirname(here)
            up = os.lstat(parent)
            if up.st_dev != st.st_dev:
                break
            here, st = parent, up
    except OSError:
        return None
    return here if st.st_ino == SUBVOLUME_ROOT_INO else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class BtrfsSnapshots(SourceView):
    """A view of the live files through snapshots made for one backup (a context manager)."""

    def __init__(
        self, items: list[bytes], rule: SnapshotRule, warn: Warn, run: Run | None = None
    ) -> None:
        self.items = items
        self.rule = rule
        self.warn = warn
        self.run = run if run is not None else _run
        self.token = f"{os.getpid()}-{secrets.token_hex(4)}".encode()
        self.made: list[tuple[bytes, bytes, int, int]] = []  # live root, snapshot, devs

    # --- making and deleting -----------------------------------------------------------------

    def __enter__(self) -> BtrfsSnapshots:
        try:
            for item in self.items:
                root = subvolume_root(item)
                if root is None:
                    self._cannot(item, "it is not on a btrfs subvolume")
                elif self._covering(root) is None:
                    self._snapshot(root)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        while self.made:
            _, snap, _, _ = self.made.pop()
            code, text = self.run([BTRFS, "subvolume", "delete", os.fsdecode(snap)])
            if code != 0:
                self.warn(os.fsdecode(snap), f"cannot delete this snapshot: {text}")

    def _cannot(self, where: bytes, why: str) -> None:
        message = f"cannot make a btrfs snapshot of {os.fsdecode(where)}: {why}"
        if self.rule.required:
            raise SnapshotFailed(
                f"{message}; the backup did not run, no recovery point (set snapshot.required"
                " = false to back up the live files instead)"
            )
        self.warn(os.fsdecode(where), f"{message}: the live files are read")

    def _snapshot(self, root: bytes) -> bytes | None:
        self._sweep(root)
        snap = os.path.join(root, PREFIX + self.token)
        code, text = self.run(
            [BTRFS, "subvolume", "snapshot", "-r", os.fsdecode(root), os.fsdecode(snap)]
        )
        if code != 0:
            self._cannot(root, text)
            return None
        self.made.append((root, snap, os.lstat(root).st_dev, os.lstat(snap).st_dev))
        self.made.sort(key=lambda m: len(m[0]), reverse=True)  # the deepest root first
        return snap

    def _sweep(self, root: bytes) -> None:
        """Delete the snapshots a killed backup left in `root` (their pid is gone)."""
        try:
            names = os.listdir(root)
        except OSError:
            return
        for name in names:
            if not name.startswith(PREFIX):
                continue
            pid = name[len(PREFIX) :].split(b"-")[0]
            if pid.isdigit() and not _pid_alive(int(pid)):
                path = os.path.join(root, name)
                code, text = self.run([BTRFS, "subvolume", "delete", os.fsdecode(path)])
                if code != 0:
                    self.warn(os.fsdecode(path), f"cannot delete a stale snapshot: {text}")

    # --- the view ----------------------------------------------------------------------------

    def _covering(self, live: bytes) -> tuple[bytes, bytes, int, int] | None:
        for made in self.made:
            root = made[0]
            if live == root or live.startswith(root.rstrip(b"/") + b"/"):
                return made
        return None

    def read_path(self, live: bytes) -> bytes:
        made = self._covering(live)
        if made is None:
            return live
        root, snap = made[0], made[1]
        return snap + live[len(root) :] if live != root else snap

    def live_path(self, read: bytes) -> bytes:
        for root, snap, _, _ in self.made:
            if read == snap or read.startswith(snap + b"/"):
                return root + read[len(snap) :]
        return read

    def dev(self, st_dev: int) -> int:
        for _, _, live_dev, snap_dev in self.made:
            if st_dev == snap_dev:
                return live_dev
        return st_dev

    def child(self, fs: FsEntry) -> FsEntry | None:
        if fs.kind != "dir":
            return fs
        ino = fs.st.st_ino
        if ino not in (EMPTY_SUBVOLUME_INO, SUBVOLUME_ROOT_INO):
            return fs
        if fs.name.startswith(PREFIX):
            return None  # a snapshot (this backup's or another's), never data
        live = self.live_path(fs.path)
        if ino != EMPTY_SUBVOLUME_INO or live == fs.path:
            return fs
        # A nested subvolume: the snapshot holds an empty folder there. Snapshot it too.
        snap = self._snapshot(live)
        try:
            entry = stat_entry(snap if snap is not None else live)
        except OSError:
            return fs
        return replace(entry, name=fs.name)


def source_view(items: list[bytes], rule: SnapshotRule, warn: Warn) -> BtrfsSnapshots | None:
    """The snapshots the policy asks for (None: read the live files)."""
    if rule.kind != "btrfs":
        return None
    return BtrfsSnapshots(items, rule, warn)
