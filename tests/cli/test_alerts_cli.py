"""`cairn alerts set | show | test` and the agent's alerts, through the real commands, against a
real HTTP receiver and a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

from tests.agent.conftest import AgentProcess
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
from tests.cli.conftest import Cli

__all__ = ["mailbox", "receiver"]


def set_both(cli: Cli, tmp_path: Path, rec: Receiver, box: Mailbox, password: str) -> None:
    secret = tmp_path / "smtp-password"
    secret.write_text(password + "\n")
    cli.run(
        "alerts", "set", "--webhook", rec.url, "--email", "ops@example.com",
        "--smtp", f"127.0.0.1:{box.port}", "--smtp-user", SMTP_USER,
        "--smtp-password-file", str(secret), "--smtp-security", "none",
    )  # fmt: skip


def test_set_show_and_test_reach_both_targets(
    registered: Cli, tmp_path: Path, receiver: Receiver, mailbox: Mailbox
) -> None:
    set_both(registered, tmp_path, receiver, mailbox, SMTP_PASSWORD)
    assert stat.S_IMODE(os.stat(registered.home / "alerts.json").st_mode) == 0o600
    shown = registered.run("alerts", "show").stdout
    assert SMTP_PASSWORD not in shown and WEBHOOK_TOKEN not in shown
    assert f"http://127.0.0.1:{receiver.port}/..." in shown and "ops@example.com" in shown
    doc = json.loads(registered.run("alerts", "show", "--json").stdout)
    assert doc["email"]["password"] == "set" and doc["open"] == [] and doc["pending"] == []

    out = registered.run("alerts", "test").stdout
    assert "webhook: sent" in out and "email: sent" in out
    (post,) = receiver.posts
    assert post["event"] == "test" and post["machine"] == "clibox"
    assert receiver.paths == [f"/hooks/{WEBHOOK_TOKEN}?key={WEBHOOK_TOKEN}"]
    (mail,) = mailbox.messages
    assert mail["Subject"] == "[cairn] clibox: test alert" and mailbox.logins == [SMTP_USER]


def test_a_test_that_does_not_arrive_is_exit_1_naming_the_target(
    registered: Cli, tmp_path: Path, receiver: Receiver, mailbox: Mailbox
) -> None:
    set_both(registered, tmp_path, receiver, mailbox, "not the password")
    proc = registered.run("alerts", "test", expect=1)
    assert "webhook: sent" in proc.stdout
    assert f"refused the login of '{SMTP_USER}'" in proc.stdout
    assert "did not reach: email" in proc.stderr
    assert "not the password" not in proc.stdout + proc.stderr
    registered.run("alerts", "set", "--no-email", "--webhook", f"http://127.0.0.1:{free_port()}/")
    proc = registered.run("alerts", "test", expect=1)
    assert "cannot be reached" in proc.stdout and "email" not in proc.stdout


def test_bad_settings_are_usage_errors(registered: Cli) -> None:
    assert (
        "HOST:PORT"
        in registered.run("alerts", "set", "--email", "a@b.c", "--smtp", "nohost", expect=2).stderr
    )
    assert (
        "--smtp HOST:PORT" in registered.run("alerts", "set", "--email", "a@b.c", expect=2).stderr
    )
    assert "http://" in registered.run("alerts", "set", "--webhook", "ftp://x/", expect=2).stderr
    assert "no alert target" in registered.run("alerts", "test", expect=2).stderr
    assert (
        "needs its password"
        in registered.run(
            "alerts", "set", "--email", "a@b.c", "--smtp", "h:25", "--smtp-user", "u", expect=2
        ).stderr
    )


def test_the_agent_alerts_a_failed_backup_without_holding_up_the_next_job(
    registered: Cli, tmp_path: Path, receiver: Receiver
) -> None:
    gone, there = tmp_path / "unplugged", tmp_path / "there"
    there.mkdir()
    (there / "f.txt").write_text("data")
    policy = tmp_path / "policy.toml"
    policy.write_text(
        f'[policy]\nitems = ["{gone}"]\ntimezone = "UTC"\n[schedule]\nfrequency = "daily"\n'
        'times = ["03:00"]\n[retention.daily]\ndays = 7\n'
    )
    registered.run("policy", "set", "--file", str(policy), "--allow-missing")
    registered.run("alerts", "set", "--webhook", receiver.url)
    receiver.delay_s = 6.0  # a slow receiver
    agent = AgentProcess(registered, "--no-setup")
    try:
        failed = registered.run("backup", expect=None)
        assert failed.returncode == 2 and "failed" in failed.stderr, failed.stderr
        ok = registered.run("backup", str(there))  # the next job does not wait for the alert
        assert receiver.posts == [], "the backup waited for the alert"
        assert "completed" in ok.stdout + ok.stderr
        (post,) = receiver.wait(1)
        assert post["event"] == "backup-failed"
        assert "none of the items could be read" in post["message"]
        # The second backup made a point: the condition cleared; no alert repeats.
        assert json.loads(registered.run("status", "--json").stdout)["healthy"] is True
    finally:
        agent.proc.terminate()
        try:
            agent.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            agent.proc.kill()
            agent.proc.communicate()
    assert len(receiver.posts) == 1
    registered.run("check")
