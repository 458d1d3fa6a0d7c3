"""The agent's side of alerts: look at the machine's health and send what is due, on a thread of
its own, so an alert (a slow SMTP server, a dead webhook) never holds up a job or the scheduler.

`poke(look)` starts one pass unless one is running (then it asks that pass to go once more):
with `look`, the health is assessed (engine/health.py: the vault's points, the job history) and
its conditions queued (engine/alert_queue.observe); then every due alert is delivered with its
retries (engine/alert_queue.deliver). The agent pokes after every job and from its housekeeping:
a look every `LOOK_EVERY` (a stale machine is noticed), a delivery pass every minute.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from cairn.core.clock import Clock
from cairn.core.errors import CairnError, StorageError
from cairn.engine import settings
from cairn.engine.alert_queue import deliver, observe
from cairn.engine.alerts import load_alerts
from cairn.engine.health import failed_jobs, machine_health
from cairn.engine.home import Home
from cairn.engine.protection import local_state
from cairn.engine.session import open_repository

log = logging.getLogger("cairn.alerts")

LOOK_EVERY = timedelta(minutes=15)


class AlertWorker:
    def __init__(self, home: Home, clock: Clock) -> None:
        self.home = home
        self.clock = clock
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._again = False
        self._again_look = False
        self.last_look: datetime | None = None
        self.passes = 0  # finished passes (tests wait on it)

    def due_look(self, now: datetime) -> bool:
        return self.last_look is None or now - self.last_look >= LOOK_EVERY

    def poke(self, look: bool) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                self._again = True
                self._again_look = self._again_look or look
                return
            self._thread = threading.Thread(
                target=self._run, args=(look,), name="cairn-alerts", daemon=True
            )
            self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self, look: bool) -> None:
        while True:
            try:
                self._pass(look)
            except Exception:  # an alert must never stop the agent
                log.exception("the alert pass failed; trying again later")
            with self._lock:
                self.passes += 1
                if not self._again:
                    return
                look, self._again, self._again_look = self._again_look, False, False

    def _pass(self, look: bool) -> None:
        now = self.clock.now()
        if look:
            self.last_look = now
            if load_alerts(self.home).configured:
                repo, problem = None, None
                try:
                    repo = open_repository(self.home, self.clock)
                except StorageError as e:
                    problem = f"the vault cannot be opened: {e}"
                except CairnError as e:
                    log.warning("alerts: cannot look at the machine's health: %s", e)
                    return
                health = machine_health(
                    self.home,
                    repo,
                    settings.load_policy(self.home),
                    now,
                    protection=local_state(self.home).describe(),
                    open_problem=problem,
                    usage=False,
                )
                observe(self.home, health, now, failed_jobs(self.home))
        deliver(self.home, now)
