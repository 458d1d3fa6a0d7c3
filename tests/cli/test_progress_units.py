"""The progress bar writes sizes and rates in one system (MiB with MiB/s; rich's own rate column
wrote MB/s beside MiB), and calls packs packs (check --read-data counted them as "files")."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

from cairn.cli import render
from cairn.core.events import Progress
from tests.cli.conftest import Cli


def _on_a_terminal(cli: Cli, *args: str) -> str:
    """The command's stderr as a terminal shows it (the bar is drawn only there)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cairn.cli.main", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=slave,
        env=cli.environ(),
    )
    os.close(slave)
    out = b""
    # poll, not select: a worker process that ran many tests may hold descriptors past 1024.
    poller = select.poll()
    poller.register(master, select.POLLIN)
    try:
        while True:
            if poller.poll(200):
                try:
                    data = os.read(master, 65536)
                except OSError:
                    break
                if not data:
                    break
                out += data
            elif proc.poll() is not None:
                break
        assert proc.wait(timeout=120) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return out.decode(errors="replace")


def test_rates_are_in_the_sizes_units() -> None:
    assert render.rate_text(1.5 * 2**20) == "1.5 MiB/s"
    assert render.rate_text(None) == "?"
    assert render.counted(Progress("check data", files_done=3, files_total=12)) == "3/12 packs"
    assert render.counted(Progress("backup", files_done=1, files_total=2)) == "1/2 files"


def test_the_bar_of_check_read_data_counts_packs(registered: Cli, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "big").write_bytes(os.urandom(12 << 20))
    backup = _on_a_terminal(registered, "backup", str(src))
    assert "1/1 files" in backup and "MiB" in backup
    check = _on_a_terminal(registered, "check", "--read-data")
    assert "packs " in check and "files" not in check
    assert "MB/s" not in backup + check and "kB/s" not in backup + check
    registered.run("check")
