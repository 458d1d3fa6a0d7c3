"""A real agent: `cairn agent run` in its own process (or the `Agent` class in this one), on a
registered CAIRN_HOME with a local vault."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cairn.agent.client import AgentClient
from cairn.agent.jobstore import Job
from tests.cli.conftest import Cli, cli, registered

__all__ = ["Cli", "cli", "registered"]


def wait_for(what: Callable[[], Any], timeout: float = 60.0, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


def sparse_source(root: Path, gib: int = 6) -> Path:
    """A tree whose backup takes seconds but no disk: one large sparse file and a few small ones."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / "large.img").open("wb") as f:
        f.truncate(gib << 30)
    for i in range(20):
        (root / f"note{i}.txt").write_text(f"note {i}\n" * 100)
    return root


class AgentProcess:
    def __init__(self, cli: Cli, *args: str) -> None:
        self.cli = cli
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cairn.cli.main", "agent", "run", *args],
            env=cli.environ(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.client: AgentClient = wait_for(self._ready, timeout=60)

    def _ready(self) -> AgentClient | None:
        if self.proc.poll() is not None:
            out, err = self.proc.communicate()
            raise AssertionError(f"the agent exited {self.proc.returncode}: {out}{err}")
        return AgentClient.find(self.cli.home)

    def job(self, job_id: str) -> Job:
        return self.client.job(job_id)

    def signal(self, signum: int) -> None:
        os.killpg(self.proc.pid, signum) if signum == signal.SIGKILL else self.proc.send_signal(
            signum
        )

    def wait(self, timeout: float = 120) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err

    def info(self) -> dict[str, Any]:
        return dict(json.loads((self.cli.home / "agent.json").read_text()))


@pytest.fixture
def agent(registered: Cli) -> Iterator[AgentProcess]:
    a = AgentProcess(registered, "--no-setup")
    yield a
    if a.proc.poll() is None:
        a.proc.terminate()
        try:
            a.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(a.proc.pid, signal.SIGKILL)
            a.proc.communicate()
