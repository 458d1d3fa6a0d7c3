"""The job queue and its runner: one job at a time, oldest queued first.

A job is queued in the job history, then run by the runner's thread through an `Executor` (the
engine calls, agent/execute.py). While it runs, the engine's progress events and warnings go into
the history (at most a few writes a second), with the rate and the time left worked out here. So a
Back Up Now while a backup runs waits its turn; so does every other job, which keeps one process
from holding two locks on the vault. Cancelling a queued job drops it; cancelling a running one
asks the engine to stop at its next safe point (the job ends "cancelled").
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from cairn.agent.jobsecrets import JobSecrets
from cairn.agent.jobstore import Job, JobStore
from cairn.core.clock import Clock
from cairn.core.errors import EXIT_INTERRUPTED, CairnError, Interrupted
from cairn.core.events import Progress, Reporter, Warning_

log = logging.getLogger("cairn.agent")

PROGRESS_EVERY_S = 0.5


@dataclass
class Outcome:
    state: str
    error: str | None = None
    exit_code: int | None = None
    recovery_point: str | None = None
    result: dict[str, Any] | None = None


class Executor(Protocol):
    def __call__(self, job: Job, reporter: Reporter) -> Outcome: ...


class _Tracker:
    """Turns progress events into what the history shows: counts, rate and time left."""

    def __init__(self, store: JobStore, job_id: str) -> None:
        self.store = store
        self.job_id = job_id
        self.started = time.monotonic()
        self.last_write = 0.0
        self.pending: list[dict[str, str]] = []
        self.lock = threading.Lock()
        self.last: Progress | None = None

    def progress(self, p: Progress, *, force: bool = False) -> None:
        now = time.monotonic()
        self.last = p
        with self.lock:
            if not force and now - self.last_write < PROGRESS_EVERY_S:
                return
            self.last_write = now
            warnings, self.pending = self.pending, []
        elapsed = max(now - self.started, 1e-6)
        rate = p.bytes_done / elapsed
        eta = None
        if p.bytes_total is not None and rate > 0:
            eta = round(max(p.bytes_total - p.bytes_done, 0) / rate, 1)
        self.store.set_progress(
            self.job_id,
            {
                "phase": p.phase,
                "files_done": p.files_done,
                "files_total": p.files_total,
                "bytes_done": p.bytes_done,
                "bytes_total": p.bytes_total,
                "bytes_stored": p.bytes_stored,
                "rate_bps": round(rate),
                "eta_s": eta,
                "elapsed_s": round(elapsed, 1),
                "current": p.current,
                "limit_bps": p.limit_bps,  # the throttle's limit in force, bits per second
            },
        )
        self.store.add_warnings(self.job_id, warnings)

    def warning(self, w: Warning_) -> None:
        with self.lock:
            self.pending.append({"path": w.path, "message": w.message})

    def flush(self) -> None:
        """The last progress the job reported, and any warnings not yet written."""
        if self.last is not None:
            self.progress(self.last, force=True)
        with self.lock:
            warnings, self.pending = self.pending, []
        self.store.add_warnings(self.job_id, warnings)


class Runner:
    def __init__(
        self,
        store: JobStore,
        execute: Executor,
        clock: Clock,
        after_job: Callable[[Job], None] | None = None,
        secrets: JobSecrets | None = None,
    ) -> None:
        self.store = store
        self.secrets = secrets if secrets is not None else JobSecrets()  # agent/jobsecrets.py
        self.execute = execute
        self.clock = clock
        self.after_job = after_job
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._current: tuple[str, threading.Event] | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    # --- what the API and the scheduler call -----------------------------------------------------

    def submit(
        self,
        kind: str,
        trigger: str,
        params: dict[str, Any] | None = None,
        slot: str | None = None,
    ) -> Job:
        job = self.store.create(kind, trigger, self.clock.now(), params, slot)
        self._wake.set()
        return job

    def cancel(self, job_id: str) -> Job:
        job = self.store.get(job_id)
        if job.done:
            return job
        if self.store.cancel_queued(job_id, self.clock.now()):
            return self.store.get(job_id)
        with self._lock:
            if self._current is not None and self._current[0] == job_id:
                self._current[1].set()
        return self.store.get(job_id)

    def busy(self) -> bool:
        with self._lock:
            return self._current is not None

    # --- running -----------------------------------------------------------------------------

    def run_pending(self) -> int:
        """Run queued jobs until none is left (the thread's body; tests call it directly)."""
        ran = 0
        while not self._stopping.is_set():
            job = self.store.next_queued()
            if job is None:
                return ran
            self.run_one(job)
            ran += 1
        return ran

    def run_one(self, job: Job) -> Job:
        if not self.store.start(job.id, self.clock.now()):
            return self.store.get(job.id)  # cancelled while queued
        cancel = threading.Event()
        with self._lock:
            self._current = (job.id, cancel)
        tracker = _Tracker(self.store, job.id)
        reporter = Reporter(on_progress=tracker.progress, on_warning=tracker.warning, cancel=cancel)
        log.info("job %s started: %s (%s)", job.id[:8], job.kind, job.trigger)
        try:
            outcome = self.execute(self.store.get(job.id), reporter)
        except Interrupted as e:
            outcome = Outcome("cancelled", str(e), EXIT_INTERRUPTED)
        except CairnError as e:
            outcome = Outcome("failed", str(e), e.exit_code)
        except Exception as e:  # a bug: the job fails, the agent goes on
            log.exception("job %s failed with an internal error", job.id[:8])
            outcome = Outcome("failed", f"internal error: {type(e).__name__}: {e}", 1)
        finally:
            with self._lock:
                self._current = None
        tracker.flush()
        done = self.store.finish(
            job.id,
            outcome.state,
            self.clock.now(),
            error=outcome.error,
            exit_code=outcome.exit_code,
            recovery_point=outcome.recovery_point,
            result=outcome.result,
        )
        log.info("job %s %s%s", job.id[:8], done.state, f": {done.error}" if done.error else "")
        if self.after_job is not None:
            try:
                self.after_job(done)
            except Exception:
                log.exception("after job %s", job.id[:8])
        return done

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="cairn-runner", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.run_pending()
            except Exception:  # the history cannot be written (a full disk): try again soon
                log.exception("the job runner failed; trying again in 30 s")
                self._stopping.wait(30)
            self._wake.wait(1.0)
            self._wake.clear()

    def stop(self, timeout: float = 60.0) -> None:
        """Stop taking jobs; a running job is cancelled and waited for (it stops at a safe point)."""
        self._stopping.set()
        with self._lock:
            if self._current is not None:
                self._current[1].set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
