"""Ctrl-C while `cairn backup` follows an agent job on a terminal (a real pty): the CLI asks
whether the job goes on in the background, as MARS's wizard does; yes leaves it running, no
cancels it (exit 130)."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.agent.conftest import AgentProcess, sparse_source, wait_for


def read_until(fd: int, text: str, timeout: float = 60.0) -> str:
    seen = b""
    deadline = time.monotonic() + timeout
    while text.encode() not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {text!r} in {seen.decode(errors='replace')!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return seen.decode(errors="replace")


@pytest.mark.parametrize("answer", ["y", "n"])
def test_ctrl_c_offers_the_background(agent: AgentProcess, tmp_path: Path, answer: str) -> None:
    src = sparse_source(tmp_path / "big", gib=64)
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cairn.cli.main", "backup", str(src)],
        env=agent.cli.environ(),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    try:
        shown = read_until(master, "runs in the agent")
        job_id = shown.split("backup job ", 1)[1].split()[0]
        wait_for(lambda: agent.client.jobs(status="running"))
        read_until(master, "GiB")  # the progress bar is drawn: the CLI follows the job
        proc.send_signal(signal.SIGINT)
        read_until(master, "Continue the job in the background?")
        os.write(master, f"{answer}\n".encode())
        code = proc.wait(timeout=60)
        job = next(j for j in agent.client.jobs() if j.id.startswith(job_id))
        if answer == "y":
            assert code == 0
            assert agent.client.job(job.id).state == "running"  # it goes on in the agent
            agent.client.cancel(job.id)
            wait_for(lambda: agent.client.job(job.id).done)
        else:
            assert code == 130
            assert agent.client.job(job.id).state == "cancelled"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    agent.cli.run("check")
