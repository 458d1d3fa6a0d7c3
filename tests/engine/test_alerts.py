"""Alerts (engine/alerts*.py) against a real HTTP receiver and a real SMTP server (aiosmtpd) on
127.0.0.1: one alert per condition until it clears, retried with backoff, secrets kept 0600."""

from __future__ import annotations

import json
import os
import stat
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from cairn.agent.jobstore import JobStore
from cairn.engine.alert_queue import (
    MAX_ATTEMPTS,
    backoff,
    deliver,
    notify,
    observe,
    queue_state,
)
from cairn.engine.alerts import ALERTS_FILE, describe, load_alerts, set_alerts
from cairn.engine.health import Failure, Health, assess, failed_jobs
from cairn.engine.home import Home
from cairn.policy import parse_policy
from tests.alert_servers import (
    SMTP_PASSWORD,
    SMTP_USER,
    WEBHOOK_TOKEN,
    Mailbox,
    Receiver,
    free_port,
    mailbox,
    receiver,
)

__all__ = ["mailbox", "receiver"]

T0 = datetime(2026, 3, 3, 21, 30, tzinfo=UTC)
POLICY = parse_policy(
    """
[policy]
items = ["/x"]
timezone = "UTC"
start = 2026-03-01
[schedule]
frequency = "daily"
times = ["21:00"]
[retention.daily]
days = 7
""",
    default_timezone="UTC",
    today=date(2026, 3, 1),
)


def health(now: datetime, *, failed_at: datetime | None, point_at: datetime | None) -> Health:
    failure = (
        Failure("f" * 32, "backup", "scheduled", failed_at, "the disk /srv is gone")
        if failed_at
        else None
    )
    return assess(
        machine="box",
        policy=POLICY,
        now=now,
        last_point=("p" * 32, point_at) if point_at else None,
        last_failure=failure,
        registered=datetime(2026, 3, 1, tzinfo=UTC),
    )


def both(home: Home, rec: Receiver, box: Mailbox) -> None:
    set_alerts(
        home,
        webhook=rec.url,
        email=("admin@example.com",),
        smtp=f"127.0.0.1:{box.port}",
        smtp_user=SMTP_USER,
        smtp_password=SMTP_PASSWORD,
        smtp_security="none",
        sender="cairn@box.example.com",
    )


def test_one_alert_per_condition_until_it_clears(
    tmp_path: Path, receiver: Receiver, mailbox: Mailbox
) -> None:
    home = Home(tmp_path / "home")
    both(home, receiver, mailbox)
    point = T0 - timedelta(days=1)
    failing = health(T0, failed_at=T0, point_at=point)
    assert failing.failing and not failing.stale
    assert [a.event for a in observe(home, failing, T0)] == ["backup-failed"]
    sent = deliver(home, T0)
    assert [(d.channel, d.error) for d in sent] == [("webhook", None), ("email", None)]
    (post,) = receiver.posts
    assert post["event"] == "backup-failed" and post["machine"] == "box"
    assert "the disk /srv is gone" in post["message"]
    (mail,) = mailbox.messages
    assert mail["Subject"] == "[cairn] box: backup failed" and mail["To"] == "admin@example.com"
    assert "the disk /srv is gone" in mail.get_payload(decode=True).decode() and mailbox.logins == [
        SMTP_USER
    ]

    # The next failure while it still fails: no second alert.
    later = T0 + timedelta(hours=1)
    assert observe(home, health(later, failed_at=later, point_at=point), later) == []
    assert deliver(home, later) == []
    assert len(receiver.posts) == 1 and len(mailbox.messages) == 1
    assert sorted(queue_state(home)["open"]) == ["failing"]

    # A good point clears it; the next failure is a new alert.
    ok = T0 + timedelta(hours=2)
    assert observe(home, health(ok, failed_at=later, point_at=ok), ok) == []
    assert queue_state(home)["open"] == {}
    again = T0 + timedelta(hours=3)
    assert len(observe(home, health(again, failed_at=again, point_at=ok), again)) == 1
    deliver(home, again)
    assert len(receiver.posts) == 2 and len(mailbox.messages) == 2


def test_a_stale_machine_is_alerted_once(tmp_path: Path, receiver: Receiver) -> None:
    home = Home(tmp_path / "home")
    set_alerts(home, webhook=receiver.url)
    now = datetime(2026, 3, 6, 21, 1, tzinfo=UTC)
    stale = health(now, failed_at=None, point_at=datetime(2026, 3, 2, 21, 0, 5, tzinfo=UTC))
    assert stale.stale
    observe(home, stale, now)
    observe(home, stale, now + timedelta(minutes=15))
    deliver(home, now + timedelta(minutes=15))
    (post,) = receiver.posts
    assert post["event"] == "stale" and "4 scheduled backups" in post["message"]


def test_a_failed_delivery_is_retried_with_backoff(tmp_path: Path, receiver: Receiver) -> None:
    home = Home(tmp_path / "home")
    set_alerts(home, webhook=receiver.url)
    receiver.answers = [500, 503]
    notify(home, "box", "protection stopped", "Protection of box was stopped.", T0)
    (first,) = deliver(home, T0)
    assert first.error is not None and "answered HTTP 500" in first.error
    assert WEBHOOK_TOKEN not in first.error  # the URL's path and query may be a secret
    (entry,) = queue_state(home)["pending"]
    assert entry["attempts"] == 1 and entry["next_try"] == (T0 + backoff(1)).isoformat()
    assert deliver(home, T0 + timedelta(seconds=30)) == []  # not due yet
    (second,) = deliver(home, T0 + timedelta(minutes=1))
    assert second.error is not None and "503" in second.error
    assert (
        queue_state(home)["pending"][0]["next_try"]
        == (T0 + timedelta(minutes=1) + timedelta(minutes=2)).isoformat()
    )
    (third,) = deliver(home, T0 + timedelta(minutes=3))
    assert third.error is None
    (post,) = receiver.posts
    assert (
        post["event"] == "critical-operation"
        and post["subject"] == "[cairn] box: protection stopped"
    )
    state = queue_state(home)
    assert state["pending"] == [] and state["log"][-1]["outcome"] == "delivered"
    assert backoff(30) == timedelta(hours=1)


def test_an_unreachable_target_is_given_up_after_its_attempts(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    set_alerts(home, webhook=f"http://127.0.0.1:{free_port()}/x/{WEBHOOK_TOKEN}")
    notify(home, "box", "retention lowered", "...", T0)
    now = T0
    for attempt in range(1, MAX_ATTEMPTS + 1):
        (d,) = deliver(home, now)
        assert d.error is not None and "cannot be reached" in d.error
        assert WEBHOOK_TOKEN not in d.error
        now += backoff(attempt)
    state = queue_state(home)
    assert state["pending"] == [] and state["log"][-1]["outcome"].startswith("given up")


def test_a_slow_target_holds_the_queue_not_the_caller_email_failure_kept_apart(
    tmp_path: Path, receiver: Receiver
) -> None:
    home = Home(tmp_path / "home")
    set_alerts(
        home,
        webhook=receiver.url,
        email=("admin@example.com",),
        smtp=f"127.0.0.1:{free_port()}",
        smtp_security="none",
    )
    notify(home, "box", "data deleted", "...", T0)
    results = deliver(home, T0)
    assert [(d.channel, d.error is None) for d in results] == [("webhook", True), ("email", False)]
    (entry,) = queue_state(home)["pending"]
    assert entry["channels"] == ["email"]  # the webhook got it once; only the mail is retried
    deliver(home, T0 + timedelta(minutes=1))
    assert len(receiver.posts) == 1


def test_settings_are_0600_and_shown_without_secrets(tmp_path: Path, receiver: Receiver) -> None:
    home = Home(tmp_path / "home")
    both(home, receiver, Mailbox(2525))
    path = home.path / ALERTS_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    shown = json.dumps(describe(load_alerts(home)))
    assert SMTP_PASSWORD not in shown and WEBHOOK_TOKEN not in shown
    assert "127.0.0.1:2525" in shown and '"password": "set"' in shown
    assert SMTP_PASSWORD not in repr(load_alerts(home)) and WEBHOOK_TOKEN not in repr(
        load_alerts(home)
    )
    # Without a target nothing is queued.
    set_alerts(home, off=True)
    assert observe(home, health(T0, failed_at=T0, point_at=None), T0) == []
    assert notify(home, "box", "x", "y", T0) is None


def test_delivery_waits_for_nothing_when_nothing_is_queued(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    started = time.monotonic()
    assert deliver(home, T0) == []
    assert time.monotonic() - started < 1


def test_a_failed_check_is_alerted_once_until_a_check_completes(
    tmp_path: Path, receiver: Receiver
) -> None:
    home = Home(tmp_path / "home")
    set_alerts(home, webhook=receiver.url)
    store = JobStore.in_home(home.path)
    job = store.create("check", "scheduled", T0, state="running")
    store.finish(job.id, "failed", T0, error="2 packs are damaged", exit_code=14)
    fine = health(T0, failed_at=None, point_at=T0)
    assert [a.event for a in observe(home, fine, T0, failed_jobs(home))] == ["job-failed"]
    assert observe(home, fine, T0, failed_jobs(home)) == []
    deliver(home, T0)
    (post,) = receiver.posts
    assert (
        post["subject"] == "[cairn] box: check failed" and "2 packs are damaged" in post["message"]
    )
    ok = store.create("check", "scheduled", T0 + timedelta(days=1), state="running")
    store.finish(ok.id, "completed", T0 + timedelta(days=1))
    assert failed_jobs(home) == []
    observe(home, fine, T0, failed_jobs(home))
    assert queue_state(home)["open"] == {}
    store.close()
