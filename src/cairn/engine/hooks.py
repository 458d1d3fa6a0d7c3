"""Running the policy's pre- and post-backup hooks (policy/hooks.py says what they are).

Each hook runs as `/bin/sh -c RUN` in its own process group, stdin closed, stdout and stderr
together kept (the last `OUTPUT_KEPT` bytes) for the job's details; at its timeout the whole group
is killed (SIGKILL). A cancel (the job cancelled, the agent stopping) kills a running hook's group
the same way within a quarter second, and the job ends cancelled. The environment is the caller's
plus CAIRN_HOOK (pre or post), CAIRN_MACHINE, and for post hooks CAIRN_BACKUP_STATUS (completed,
completed-with-warnings or failed) and CAIRN_RECOVERY_POINT (the new point's id, empty when none
was written).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cairn.core.errors import Interrupted
from cairn.policy.hooks import Hook

OUTPUT_KEPT = 16 * 1024
CANCEL_POLL_S = 0.25  # how often a running hook looks at the job's cancel


@dataclass(frozen=True, slots=True)
class HookRun:
    phase: str
    run: str
    required: bool
    exit_code: int | None  # None: killed at its timeout, or it could not start
    output: str
    duration_s: float
    problem: str | None = None  # why it failed, in words; None: it succeeded

    @property
    def ok(self) -> bool:
        return self.problem is None

    def to_json(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "run": self.run,
            "required": self.required,
            "exit_code": self.exit_code,
            "output": self.output,
            "duration_s": round(self.duration_s, 3),
            "problem": self.problem,
        }


def run_hook(
    hook: Hook, phase: str, env: Mapping[str, str], cancel: threading.Event | None = None
) -> HookRun:
    """Run one hook to its end or its timeout. With `cancel` set while it runs, its process group
    is killed and `Interrupted` raised: a stopping agent must not wait out an hour's timeout."""
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            ["/bin/sh", "-c", hook.run],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env, "CAIRN_HOOK": phase},
            start_new_session=True,
        )
    except OSError as e:
        return HookRun(phase, hook.run, hook.required, None, "", 0.0, f"cannot start: {e.strerror}")
    deadline = started + hook.timeout_s
    while True:
        try:
            out, _ = proc.communicate(
                timeout=max(min(CANCEL_POLL_S, deadline - time.monotonic()), 0)
            )
            code: int | None = proc.returncode
            problem = None if code == 0 else f"exited {code}"
            break
        except subprocess.TimeoutExpired:
            cancelled = cancel is not None and cancel.is_set()
            if not cancelled and time.monotonic() < deadline:
                continue  # communicate() may be called again: what was read so far is kept
            _kill_group(proc)
            out, _ = proc.communicate()
            if cancelled:
                raise Interrupted(
                    f"cancelled while the {phase}-backup hook `{hook.run}` ran (it was killed)"
                ) from None
            code, problem = None, f"timed out after {hook.timeout_s} s and was killed"
            break
    text = out[-OUTPUT_KEPT:].decode("utf-8", "replace")
    return HookRun(phase, hook.run, hook.required, code, text, time.monotonic() - started, problem)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def describe(run: HookRun) -> str:
    tail = run.output.strip().splitlines()[-3:]
    said = f"; its output ends: {' | '.join(tail)}" if tail else ""
    return f"the {run.phase}-backup hook `{run.run}` {run.problem}{said}"
