"""Which alerts are due, once each, and their delivery with retries.

    CAIRN_HOME/alerts-queue.json  (0600)
      open      {condition: {"since": ISO, "alert": ID}}  conditions alerted and not yet cleared
      pending   [{"alert": {...}, "channels": [NAME, ...], "attempts": N, "next_try": ISO,
                  "last_error": TEXT | null}]             alerts not yet delivered everywhere
      log       the last `LOG_KEPT` outcomes (delivered / given up), newest last

- Conditions are "failing" (the last backup failed), "stale" (two scheduled slots without a
  recovery point), from engine/health.py, and "prune-failed", "check-failed", "restore-failed"
  (the newest job of that kind failed; a later one that completes clears it). `observe` queues
  one alert when a condition opens and none while it stays open; it forgets the condition when
  it clears, so the next time it opens is a new alert. Critical operations (`notify`) are one alert each.
- `deliver` sends what is due to the channels still owed it; a channel that fails is tried again
  after `backoff(attempts)` (1 minute, doubling, at most an hour), up to `MAX_ATTEMPTS` times,
  then the alert is given up and logged. The agent calls it from its housekeeping and after jobs,
  on a thread of its own: an alert never holds a backup up.
- Every change is made under an flock of CAIRN_HOME/alerts.lock, so the agent and a CLI process
  (which queues a critical operation and tries to send it at once) never send one alert twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cairn.core.errors import CairnError, DeliveryFailed
from cairn.core.ids import random_id
from cairn.engine.alert_channels import Alert, Channel, channels
from cairn.engine.alerts import AlertSettings, load_alerts
from cairn.engine.health import Failure, Health
from cairn.engine.home import Home, write_private

log = logging.getLogger("cairn.alerts")

QUEUE_FILE = "alerts-queue.json"
LOCK_FILE = "alerts.lock"
MAX_ATTEMPTS = 12
LOG_KEPT = 50
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)


def backoff(attempts: int) -> timedelta:
    return min(FIRST_RETRY * (1 << min(max(attempts - 1, 0), 16)), LONGEST_RETRY)


@dataclass(frozen=True, slots=True)
class Delivery:
    alert: Alert
    channel: str
    error: str | None  # None: delivered


@contextlib.contextmanager
def _locked(home: Home) -> Iterator[dict[str, Any]]:
    home.path.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(home.path / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        state = _read(home)
        before = json.dumps(state, sort_keys=True)
        yield state
        if json.dumps(state, sort_keys=True) != before:
            write_private(home.path / QUEUE_FILE, json.dumps(state, indent=1).encode())
    finally:
        os.close(fd)


def _read(home: Home) -> dict[str, Any]:
    path = home.path / QUEUE_FILE
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        doc = {}
    except (OSError, ValueError):
        log.warning("%s is damaged: starting a new alert queue", path)
        doc = {}
    if not isinstance(doc, dict):
        doc = {}
    doc.setdefault("open", {})
    doc.setdefault("pending", [])
    doc.setdefault("log", [])
    return doc


def queue_state(home: Home) -> dict[str, Any]:
    """The queue as it is (for `cairn alerts show` and tests)."""
    return _read(home)


def _enqueue(state: dict[str, Any], alert: Alert, settings: AlertSettings, now: datetime) -> None:
    state["pending"].append(
        {
            "alert": alert.to_json(),
            "channels": settings.channels(),
            "attempts": 0,
            "next_try": now.isoformat(),
            "last_error": None,
        }
    )


def _conditions(health: Health, jobs: list[Failure]) -> dict[str, tuple[str, str, str]]:
    """The open conditions of `health` and of the other jobs: name -> (event, subject, message)."""
    out: dict[str, tuple[str, str, str]] = {}
    machine = health.machine
    for f in jobs:
        out[f"{f.kind}-failed"] = (
            "job-failed",
            f"[cairn] {machine}: {f.kind} failed",
            f"The {f.trigger} {f.kind} job {f.job_id[:8]} of machine {machine} failed at"
            f" {f.at.isoformat(timespec='seconds')}: {f.reason}",
        )
    if health.failing and health.last_failure is not None:
        f = health.last_failure
        out["failing"] = (
            "backup-failed",
            f"[cairn] {machine}: backup failed",
            f"The {f.trigger} backup of machine {machine} failed at"
            f" {f.at.isoformat(timespec='seconds')}: {f.reason}",
        )
    if health.stale:
        last = health.last_success.isoformat(timespec="seconds") if health.last_success else "never"
        out["stale"] = (
            "stale",
            f"[cairn] {machine}: no recovery point for {health.slots_without_point} scheduled"
            " backups",
            f"Machine {machine} has made no recovery point for {health.slots_without_point}"
            f" scheduled backups (last success: {last}).",
        )
    return out


def observe(
    home: Home, health: Health, now: datetime, jobs: list[Failure] | None = None
) -> list[Alert]:
    """Queue an alert for each condition that just opened (of `health`, and `jobs`: the prune,
    check and restore kinds whose last job failed); forget cleared ones."""
    settings = load_alerts(home)
    if not settings.configured:
        return []
    found = _conditions(health, jobs or [])
    queued = []
    with _locked(home) as state:
        opened: dict[str, Any] = state["open"]
        for name in [n for n in opened if n not in found]:
            del opened[name]  # cleared: the next time it opens is a new alert
        for name, (event, subject, message) in found.items():
            if name in opened:
                continue
            alert = Alert(
                random_id(), event, health.machine, subject, message, now.isoformat(), name
            )
            opened[name] = {"since": now.isoformat(), "alert": alert.id}
            _enqueue(state, alert, settings, now)
            queued.append(alert)
    return queued


def notify(home: Home, machine: str, subject: str, message: str, now: datetime) -> Alert | None:
    """Queue one alert for a critical operation (None: no alert target is set)."""
    settings = load_alerts(home)
    if not settings.configured:
        return None
    alert = Alert(
        random_id(),
        "critical-operation",
        machine,
        f"[cairn] {machine}: {subject}",
        message,
        now.isoformat(),
    )
    with _locked(home) as state:
        _enqueue(state, alert, settings, now)
    return alert


def send_now(alert: Alert, targets: Sequence[Channel]) -> list[Delivery]:
    """Send `alert` to each channel once (no queue): `cairn alerts test`."""
    out = []
    for channel in targets:
        try:
            channel.send(alert)
            out.append(Delivery(alert, channel.name, None))
        except DeliveryFailed as e:
            out.append(Delivery(alert, channel.name, str(e)))
    return out


def deliver(home: Home, now: datetime, targets: Sequence[Channel] | None = None) -> list[Delivery]:
    """Send every queued alert that is due to the channels still owed it."""
    path = home.path / QUEUE_FILE
    if not path.exists():
        return []
    try:
        settings = load_alerts(home)
    except CairnError as e:
        log.error("alerts: %s", e)
        return []
    by_name = {c.name: c for c in (targets if targets is not None else channels(settings))}
    results: list[Delivery] = []
    with _locked(home) as state:
        keep = []
        for entry in state["pending"]:
            if datetime.fromisoformat(entry["next_try"]) > now:
                keep.append(entry)
                continue
            alert = Alert.from_json(entry["alert"])
            owed = []
            for name in entry["channels"]:
                channel = by_name.get(name)
                if channel is None:
                    continue  # that target was removed since
                try:
                    channel.send(alert)
                    results.append(Delivery(alert, name, None))
                except DeliveryFailed as e:
                    results.append(Delivery(alert, name, str(e)))
                    entry["last_error"] = str(e)
                    owed.append(name)
            if not owed:
                _log(state, alert, "delivered", now)
                continue
            entry["channels"] = owed
            entry["attempts"] += 1
            if entry["attempts"] >= MAX_ATTEMPTS:
                log.error("alert %s given up after %d attempts", alert.id[:8], entry["attempts"])
                _log(state, alert, f"given up: {entry['last_error']}", now)
                continue
            entry["next_try"] = (now + backoff(entry["attempts"])).isoformat()
            keep.append(entry)
        state["pending"] = keep
    for d in results:
        if d.error is not None:
            log.warning(
                "alert %s to %s not sent (retried later): %s", d.alert.id[:8], d.channel, d.error
            )
    return results


def _log(state: dict[str, Any], alert: Alert, outcome: str, now: datetime) -> None:
    state["log"].append(
        {
            "alert": alert.id,
            "event": alert.event,
            "subject": alert.subject,
            "outcome": outcome,
            "at": now.isoformat(),
        }
    )
    del state["log"][:-LOG_KEPT]
