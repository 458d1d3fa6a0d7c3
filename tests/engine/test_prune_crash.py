"""kill -9 of a real prune process at any moment leaves a vault that checks clean, and the next
prune finishes the work."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cairn.engine.backup import BackupOptions, backup
from cairn.engine.prune import prune
from tests.conftest import Machine

pytestmark = pytest.mark.slow

PRUNE = """
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from cairn.core.clock import SystemClock
from cairn.engine.home import Home
from cairn.engine.prune import prune
from cairn.engine.session import open_repository
repo = open_repository(Home(Path(sys.argv[1])), SystemClock())
expired = {p.id for p in repo.list_points()[:-1]}
prune(repo, expired, now=datetime.now(UTC), grace=timedelta(0))
"""


def make_points(machine: Machine, rounds: int) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    rnd = random.Random(3)
    for r in range(rounds):
        for i in range(4):
            (src / f"r{r}-{i}.bin").write_bytes(rnd.randbytes(3 << 20))
        if r:
            for i in range(4):
                (src / f"r{r - 1}-{i}.bin").unlink()
        backup(machine.repo(), BackupOptions([str(src)]))


@pytest.mark.parametrize("seed", range(3))
def test_kill_prune_at_random_moments(machine: Machine, seed: int) -> None:
    make_points(machine, rounds=4)
    rnd = random.Random(seed)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for _ in range(2):
        # Two passes: the first marks packs unreferenced, the second may delete them.
        proc = subprocess.Popen(
            [sys.executable, "-c", PRUNE, str(machine.home.path)], env=env, start_new_session=True
        )
        time.sleep(rnd.uniform(0.2, 1.2))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        machine.check_clean()
    repo = machine.repo()
    expired = {p.id for p in repo.list_points()[:-1]}
    for _ in range(2):
        prune(machine.repo(), expired, now=datetime.now(UTC), grace=timedelta(0))
        expired = set()
    machine.check_clean()
    assert len(machine.repo().list_points()) == 1
    size = sum(p.stat().st_size for p in Path(machine.vault).glob("machines/*/packs/*/*"))
    # Four rounds of 12 MiB of random data went in; only the last round's is still needed.
    assert 12 << 20 <= size < 14 << 20
