"""kill -9 of a real backup process at any moment leaves a vault that checks clean, and the next
backup completes, reusing the packs the killed one wrote."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.conftest import Cli

pytestmark = pytest.mark.slow


def make_source(src: Path, files: int, size: int) -> int:
    src.mkdir()
    rnd = random.Random(7)
    for i in range(files):
        (src / f"f{i:02d}.bin").write_bytes(rnd.randbytes(size))
    (src / "small").mkdir()
    for i in range(200):
        (src / "small" / f"s{i}.txt").write_text(f"small file {i}\n" * 20)
    return files * size


def start_backup(cli: Cli, src: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cairn.cli.main", "backup", str(src), "--json"],
        env=cli.environ(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def kill_tree(proc: subprocess.Popen[str]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()


def packs(vault: Path) -> list[Path]:
    """Complete packs (a pack being written is a hidden temp file until it is renamed)."""
    return [p for p in vault.glob("machines/*/packs/*/*") if not p.name.startswith(".")]


def test_kill_after_packs_were_written_then_next_backup_reuses_them(
    registered: Cli, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    total = make_source(src, files=10, size=8 << 20)
    vault = tmp_path / "vault"
    proc = start_backup(registered, src)
    deadline = time.monotonic() + 60
    while len(packs(vault)) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, (
        "the backup finished before it could be killed: make the source larger"
    )
    kill_tree(proc)
    assert len(packs(vault)) >= 2
    stored = sum(p.stat().st_size for p in packs(vault))
    assert stored >= 4 << 20
    assert json.loads(registered.run("recovery-points", "--json").stdout) == []
    registered.run("check", "--read-data")
    out = json.loads(registered.run("backup", str(src), "--json").stdout)
    assert out["status"] == "completed"
    # The packs the killed backup wrote were indexed, not uploaded again (their bytes are the
    # random chunks they hold, plus a little framing; the small files may come on top).
    assert out["stats"]["bytes_added"] <= total - stored + (1 << 20)
    registered.run("check", "--read-data")
    restored = tmp_path / "r"
    registered.run("restore", "latest", "--target", str(restored))
    for f in sorted(src.glob("*.bin")):
        assert (restored / str(f).lstrip("/")).read_bytes() == f.read_bytes()


@pytest.mark.parametrize("seed", range(4))
def test_kill_at_random_moments_leaves_a_consistent_vault(
    registered: Cli, tmp_path: Path, seed: int
) -> None:
    src = tmp_path / "src"
    make_source(src, files=6, size=6 << 20)
    rnd = random.Random(seed)
    for _ in range(3):
        proc = start_backup(registered, src)
        time.sleep(rnd.uniform(0.05, 1.5))
        if proc.poll() is None:
            kill_tree(proc)
        else:
            proc.communicate()
        registered.run("check", "--read-data")
    out = json.loads(registered.run("backup", str(src), "--json").stdout)
    assert out["status"] == "completed"
    registered.run("check", "--read-data")
