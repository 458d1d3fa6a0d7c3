"""Stopping the agent: the signal path takes no lock, and a stop has a deadline.

Both run in a child process: what they guard against is a process that never ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from cairn.agent.service import INFO_FILE

SRC = str(Path(__file__).resolve().parents[2] / "src")


def python(code: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float) -> tuple[int | None, str, str]:
    """Its exit code and output; None if it had not ended by `timeout` (then it is killed)."""
    try:
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out, err
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return None, out, err


def test_a_signal_another_thread_receives_stops_at_once_while_the_main_thread_waits() -> None:
    """The kernel gives a process's signal to any thread that does not block it. A Python handler
    runs only when the main thread next runs Python code, and the agent's main thread sits in
    `Event.wait()` for up to a minute between scheduler ticks: a SIGTERM caught by the API's or
    the runner's thread used to wait that long (a CI run timed out on agents that did not stop)."""
    proc = python(
        """
        import os, signal, threading, time
        from cairn.agent.service import on_signals
        stopped = threading.Event()
        on_signals(lambda why: stopped.set(), signal.SIGTERM)
        asked = []
        def other():  # SIGTERM is blocked in the main thread below: this thread receives it
            time.sleep(0.3)
            asked.append(time.monotonic())
            os.kill(os.getpid(), signal.SIGTERM)
            print("stopped" if stopped.wait(10) else "not stopped", flush=True)
            if stopped.is_set():
                print(f"after {time.monotonic() - asked[0]:.2f}", flush=True)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        t = threading.Thread(target=other)
        t.start()
        threading.Event().wait(20)  # the scheduler's wait, with nothing to wake it
        t.join()
        """
    )
    code, out, err = finish(proc, 60)
    assert code == 0, err
    lines = out.split()
    assert lines[0] == "stopped", out
    assert float(lines[2]) < 5, out


def test_a_signal_while_the_main_thread_holds_the_stop_events_lock_still_stops() -> None:
    """The main thread holds an Event's lock for a moment at every `Event.wait()`: a handler that
    called `Event.set()` itself, as the agent's did, waited for that lock forever (an agent that
    never stopped on SIGTERM)."""
    proc = python(
        """
        import os, signal, threading, time
        from cairn.agent.service import on_signals
        stopped = threading.Event()
        on_signals(lambda why: stopped.set(), signal.SIGTERM)
        with stopped._cond:  # as inside Event.wait(), between its steps
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.3)  # the Python-level handler runs in this thread, here
        print("stopped" if stopped.wait(10) else "not stopped")
        """
    )
    code, out, err = finish(proc, 30)
    assert code == 0, err
    assert out.strip() == "stopped"


def test_a_stop_that_cannot_finish_ends_the_process_at_its_deadline(tmp_path: Path) -> None:
    """A job that never reaches a safe point held a SIGTERM'd agent for a minute or more; past
    the deadline the agent logs every thread's stack (naming what held it) and exits 1."""
    proc = python(
        """
        import signal, sys, time
        from pathlib import Path
        from cairn.agent.runner import Outcome
        from cairn.agent.service import Agent
        from cairn.core.clock import SystemClock
        from cairn.engine.home import Home

        def job_that_ignores_cancel(job, reporter):
            time.sleep(600)
            return Outcome("completed")

        agent = Agent(Home(Path(sys.argv[1])), SystemClock(), executor=job_that_ignores_cancel,
                      stop_deadline=2.0)
        agent.start()
        agent.stop_on_signals(signal.SIGTERM)
        agent.runner.submit("backup", "on-demand", {})
        while not agent.runner.busy():
            time.sleep(0.01)
        print("running", flush=True)
        agent.run()
        """,
        str(tmp_path / "home"),
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "running"
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code, _, err = finish(proc, 30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert code == 1, err
    assert time.monotonic() - started < 15
    assert "did not stop within 2 s" in err
    assert "job_that_ignores_cancel" in err  # the stack names what held it
    assert not (tmp_path / "home" / INFO_FILE).exists()  # no agent.json left for clients
