"""`cairn agent run`: the service. One per CAIRN_HOME.

    CAIRN_HOME/agent.lock     held (flock) while the agent runs: a second agent is refused (exit 11)
    CAIRN_HOME/agent.json     {"port", "pid", "started", "version", "console_url"}     (0600)
    CAIRN_HOME/agent.secret   the bearer secret of the local API, new at every start (0600)
    CAIRN_HOME/jobs.sqlite    the job history (agent/jobstore.py), kept `HISTORY` long

At start, jobs a killed agent left running or queued are marked failed. Then three threads: the
local API (uvicorn, 127.0.0.1), the runner (one job at a time) and the caller's, which runs the
scheduler loop until `stop` is set (SIGTERM or SIGINT). The server answers the API under `/v1`
and, when the starting command passes a console factory (`agent/consolehost.py`), the console at
every other path (`console_url` in agent.json). Stopping cancels the running job, which
stops at its next safe point and is marked cancelled; the vault stays consistent.

A stop (`request_stop`: SIGTERM, SIGINT, the console) has a deadline, as a service manager's stop
has: past `STOP_DEADLINE_S` (a job that reaches no safe point, a thread that never returns) the
stacks of every thread go to the log and the process exits with code 1. That loses nothing: the
vault is consistent after a kill at any moment (docs/format.md's write order), and the next start
marks the job failed. A signal reaches the stop through the interpreter's wakeup descriptor, read
by a thread of its own (`on_signals`): the Python handler does nothing, since it runs in the main
thread between two of its steps (one that took a lock the main thread held, an Event's or a
logging handler's, would wait for itself forever), and only once the main thread runs Python
code again, which it may not do for a minute.
"""

from __future__ import annotations

import errno
import faulthandler
import fcntl
import json
import logging
import os
import secrets
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from cairn import __version__
from cairn.agent.alerting import AlertWorker
from cairn.agent.api import make_app
from cairn.agent.client import INFO_FILE, SECRET_FILE
from cairn.agent.consolehost import ConsoleFactory, ConsoleHost
from cairn.agent.execute import EngineExecutor
from cairn.agent.jobsecrets import JobSecrets
from cairn.agent.jobstore import JobStore, stamp, unstamp
from cairn.agent.logintokens import LoginTokens
from cairn.agent.runner import Executor, Runner
from cairn.agent.scheduler import Scheduler
from cairn.core.clock import Clock
from cairn.core.errors import CairnError, Locked
from cairn.engine import offline, settings
from cairn.engine.home import Home, write_private
from cairn.engine.protection import local_state
from cairn.engine.session import open_repository
from cairn.policy import Policy

log = logging.getLogger("cairn.agent")

LOCK_FILE = "agent.lock"
HISTORY = timedelta(days=90)
IDLE_WAKE_S = 60.0  # look again at least this often (a changed policy, a clock jump, a resume)
STOP_DEADLINE_S = 45.0  # a stop that takes longer ends the process (stacks in the log)


def on_signals(request_stop: Callable[[str], None], *signums: int) -> None:
    """Call `request_stop("signal N")` on a thread of its own for each of `signums` received.

    Python runs a signal handler only in the main thread, when that thread next runs Python code;
    the kernel gives the signal to whichever thread does not block it, and the main thread may be
    waiting a minute for the next scheduler tick. So the number is taken from the interpreter's
    wakeup descriptor, which the C-level handler writes at once in the thread that received it; the
    Python handler does nothing (it only keeps the default action, death, from happening). Must be
    called from the main thread."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    wanted = {int(s) for s in signums}

    def handler(signum: int, frame: object) -> None:
        pass  # the wakeup descriptor has the signal already: no lock, no logging here

    def watch() -> None:
        while True:
            got = os.read(read_end, 1)
            if not got:
                return
            if got[0] in wanted:
                request_stop(f"signal {got[0]}")

    threading.Thread(target=watch, name="cairn-signals", daemon=True).start()
    signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    for signum in signums:
        signal.signal(signum, handler)


class Agent:
    def __init__(
        self,
        home: Home,
        clock: Clock,
        *,
        port: int = 0,
        executor: Executor | None = None,
        history: timedelta = HISTORY,
        console: ConsoleFactory | None = None,
        stop_deadline: float = STOP_DEADLINE_S,
    ) -> None:
        self.home = home
        self.clock = clock
        self.port = port
        self.history = history
        self.stop_event = threading.Event()
        self.stop_deadline = stop_deadline
        self._stop_asked = threading.Lock()
        self._lock_fd = -1
        self._server: uvicorn.Server | None = None
        self._http: threading.Thread | None = None
        self._executor = executor
        self._console = console
        self.tokens = LoginTokens()
        self.store: JobStore | None = None
        self.runner: Runner | None = None
        self.scheduler: Scheduler | None = None
        self.next_run: datetime | None = None
        self.alerts = AlertWorker(home, clock)

    # --- start and stop -------------------------------------------------------------------------

    def request_stop(self, why: str) -> None:
        """Stop the agent (the scheduler loop ends, the running job is cancelled), within
        `stop_deadline` seconds at the latest. A second request only says so."""
        if not self._stop_asked.acquire(blocking=False):
            log.info(
                "already stopping (%s): it stops within %g s at the latest", why, self.stop_deadline
            )
            return
        log.info("stopping (%s)", why)
        self.stop_event.set()
        threading.Thread(target=self._stop_or_exit, name="cairn-stop-deadline", daemon=True).start()

    def stop_on_signals(self, *signums: int) -> None:
        on_signals(self.request_stop, *signums)

    def _stop_or_exit(self) -> None:
        time.sleep(self.stop_deadline)  # a stop that works ends the process before this wakes
        log.error(
            "the agent did not stop within %g s: the stacks of its threads follow; exiting"
            " (the vault is consistent; the next start marks the unfinished job failed)",
            self.stop_deadline,
        )
        try:
            faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        except (OSError, ValueError, AttributeError):  # no usable stderr
            pass
        for name in (INFO_FILE, SECRET_FILE):
            try:
                os.unlink(self.home.path / name)
            except OSError:
                pass
        os._exit(1)

    def _take_lock(self) -> None:
        self.home.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.home.path / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                raise CairnError(f"cannot lock {path}: {e.strerror}") from None
            raise Locked(
                f"another agent already runs for CAIRN_HOME {self.home.path}{_holder(self.home)};"
                " stop it first (one agent per CAIRN_HOME)"
            ) from None
        self._lock_fd = fd

    def start(self, first: Callable[[], None] | None = None) -> None:
        """Take the lock, run `first` (the first-start set-up) under it, then start serving."""
        self._take_lock()
        try:
            if first is not None:
                first()
            self._start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> None:
        now = self.clock.now()
        store = self.store = JobStore.in_home(self.home.path)
        for job_id in store.fail_orphans(now):
            log.warning("job %s was left unfinished by a stopped agent: marked failed", job_id[:8])
        store.purge(now - self.history)
        store.set_meta("purged", stamp(now))
        job_secrets = JobSecrets()
        executor = self._executor or EngineExecutor(
            self.home, self.clock, store, secrets=job_secrets
        )
        runner = self.runner = Runner(
            store, executor, self.clock, after_job=self._after_job, secrets=job_secrets
        )
        self.scheduler = Scheduler(
            store,
            runner,
            self._policy,
            hold=lambda: offline.waiting_reason(
                self.home, lambda: open_repository(self.home, self.clock)
            ),
        )

        secret = secrets.token_urlsafe(32)
        write_private(self.home.path / SECRET_FILE, secret.encode() + b"\n")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", self.port))
        except OSError as e:
            sock.close()
            raise CairnError(
                f"the agent cannot listen on 127.0.0.1:{self.port}: {e.strerror}"
            ) from None
        sock.listen(64)
        self.port = sock.getsockname()[1]
        api = make_app(runner, store, secret, self.status, self.tokens)
        console = None
        if self._console is not None:
            host = ConsoleHost(
                self.home, self.clock, store, runner, self.tokens, self.status, self.stop_event
            )
            console = self._console(host)
        # No access log: a login URL carries a one-time token (it is redeemed and redirected away).
        config = uvicorn.Config(
            _Root(api, console),
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=3,
        )
        self._server = uvicorn.Server(config)
        server = self._server
        self._http = threading.Thread(
            target=lambda: server.run(sockets=[sock]), name="cairn-api", daemon=True
        )
        self._http.start()
        runner.start()
        info = {
            "port": self.port,
            "pid": os.getpid(),
            "started": now.isoformat(),
            "version": __version__,
            "console_url": f"http://127.0.0.1:{self.port}/" if console is not None else None,
        }
        write_private(self.home.path / INFO_FILE, json.dumps(info).encode() + b"\n")
        log.info("agent listening on 127.0.0.1:%d (CAIRN_HOME %s)", self.port, self.home.path)

    def run(self) -> None:
        """The scheduler loop, until `stop_event` is set; then stop everything."""
        assert self.scheduler is not None and self.store is not None
        try:
            while not self.stop_event.is_set():
                now = self.clock.now()
                try:
                    following = self.next_run = self.scheduler.tick(now)
                    self._housekeeping(now)
                except CairnError as e:
                    log.error("the scheduler could not read the policy: %s", e)
                    following = None
                except Exception:  # the history cannot be written (a full disk): try again
                    log.exception("the scheduler failed; trying again in a minute")
                    following = None
                wait = IDLE_WAKE_S
                if following is not None:
                    wait = min(wait, max((following - self.clock.now()).total_seconds(), 0.05))
                self.stop_event.wait(wait)
        finally:
            self.close()

    def _housekeeping(self, now: datetime) -> None:
        assert self.store is not None
        last = self.store.get_meta("purged")
        if last is None or now - unstamp(last) >= timedelta(days=1):
            self.store.purge(now - self.history)
            self.store.set_meta("purged", stamp(now))
        if local_state(self.home).protection == "stopped":
            # No scheduled backups, so no prune after them: the points still age out daily.
            last = self.store.get_meta("stopped_prune")
            if self.runner is not None and (
                last is None or now - unstamp(last) >= timedelta(days=1)
            ):
                self.runner.submit("prune", "scheduled")
                self.store.set_meta("stopped_prune", stamp(now))
        self.alerts.poke(look=self.alerts.due_look(now))  # on its own thread

    def _policy(self) -> Policy | None:
        """The policy the scheduler follows: none while protection is stopped."""
        if local_state(self.home).protection == "stopped":
            return None
        return settings.load_policy(self.home)

    def _after_job(self, job: Any) -> None:
        if self.scheduler is not None:
            self.scheduler.after_job(job, self.clock.now())
        self.alerts.poke(look=True)

    def close(self) -> None:
        if self.runner is not None:
            self.runner.stop()
        if self._server is not None:
            self._server.should_exit = True
        if self._http is not None:
            self._http.join(10)
        for name in (INFO_FILE, SECRET_FILE):
            try:
                os.unlink(self.home.path / name)
            except FileNotFoundError:
                pass
        if self.store is not None:
            self.store.close()
            self.store = None
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = -1

    def status(self) -> dict[str, Any]:
        assert self.store is not None
        running = self.store.running()
        failed = self.store.jobs(status="failed", last=1)
        try:
            machine: str | None = self.home.registration().machine
        except CairnError:
            machine = None
        seeding = offline.status_doc(offline.load_state(self.home))
        awaiting = seeding["state"] == "awaiting-import"
        return {
            "pid": os.getpid(),
            "version": __version__,
            "port": self.port,
            "home": str(self.home.path),
            "machine": machine,
            "next_run": self.next_run.isoformat() if self.next_run else None,
            "running": running[0].to_json() if running else None,
            "queued": len(self.store.jobs(status="queued")),
            "last_failure": failed[0].to_json() if failed else None,
            "offline": seeding,
            # Why scheduled backups wait, while they do (the scheduler's note of the last slot).
            "waiting": (self.store.get_meta("waiting") or None) if awaiting else None,
        }


class _Root:
    """The API under /v1, the console (if any) everywhere else."""

    def __init__(self, api: ASGIApp, console: ASGIApp | None) -> None:
        self.api = api
        self.console = console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if self.console is None or path == "/v1" or path.startswith("/v1/"):
            await self.api(scope, receive, send)
        else:
            await self.console(scope, receive, send)


def _holder(home: Home) -> str:
    try:
        info = json.loads((home.path / INFO_FILE).read_text())
        return f" (pid {int(info['pid'])}, port {int(info['port'])})"
    except (OSError, ValueError, KeyError, TypeError):
        return ""
