"""A small real tmpfs, mounted for one test (the tests run as root) and filled on demand."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

PAGE = 4096


@contextlib.contextmanager
def tmpfs(where: Path, size: str = "2m") -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)], check=True
    )
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(folder: Path, leave_bytes: int = 0) -> Path:
    """Fill the file system under `folder` up, then free `leave_bytes` (whole pages) again."""
    filler = folder / "filler"
    block = b"\xaa" * PAGE
    with open(filler, "wb", buffering=0) as f:
        while True:
            try:
                if f.write(block) != PAGE:
                    break
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                break
    size = filler.stat().st_size
    if leave_bytes:
        os.truncate(filler, max(0, size - size % PAGE - leave_bytes))
    return filler
