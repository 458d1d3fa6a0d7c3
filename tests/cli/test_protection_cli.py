"""The guard rails through the real commands: `security pin`, `protection stop|resume|undelete`,
`recovery-points --deleted`, `policy set --pin`, each critical operation recorded and alerted."""

from __future__ import annotations

import json
import re
from pathlib import Path

from cairn.agent.service import Agent
from cairn.core.clock import SystemClock
from cairn.engine.home import Home
from cairn.engine.session import open_repository
from tests.alert_servers import Receiver, receiver
from tests.cli.conftest import Cli

__all__ = ["receiver"]

POLICY = """
[policy]
items = ["{src}"]
timezone = "UTC"
[schedule]
frequency = "daily"
times = ["21:00"]
[retention.daily]
days = {days}
"""


def pin(cli: Cli) -> str:
    out = cli.run("security", "pin").stdout.strip()
    assert re.fullmatch(r"\d{6}", out), out
    return out


def with_points(cli: Cli, tmp_path: Path, count: int = 2) -> list[str]:
    src = tmp_path / "src"
    src.mkdir()
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY.format(src=src, days=30))
    cli.run("policy", "set", "--file", str(policy))
    for i in range(count):
        (src / "f.txt").write_text(f"version {i}")
        cli.run("backup")
    return [p["id"] for p in json.loads(cli.run("recovery-points", "--json").stdout)]


def test_security_pin_needs_the_passphrase(registered: Cli) -> None:
    env = registered.environ()
    del env["CAIRN_PASSPHRASE"]
    proc = registered.run("security", "pin", env=env, expect=2)
    assert "needs the machine's passphrase" in proc.stderr
    wrong = registered.environ(CAIRN_PASSPHRASE="not the passphrase at all")
    registered.run("security", "pin", env=wrong, expect=12)
    pin(registered)
    registered.run("check")


def test_delete_data_with_a_pin_then_undelete_and_resume(
    registered: Cli, tmp_path: Path, receiver: Receiver
) -> None:
    ids = with_points(registered, tmp_path)
    registered.run("alerts", "set", "--webhook", receiver.url)
    refused = registered.run("protection", "stop", "--delete-data", expect=2)
    assert "needs a security PIN" in refused.stderr and "cairn security pin" in refused.stderr
    bad = registered.run("protection", "stop", "--delete-data", "--pin", "000000", expect=2)
    assert "wrong, expired" in bad.stderr  # no PIN was made yet
    code = pin(registered)
    out = registered.run("protection", "stop", "--delete-data", "--pin", code).stdout
    assert "2 recovery point(s) deleted" in out
    again = registered.run("protection", "stop", "--delete-data", "--pin", code, expect=2)
    assert "already used" in again.stderr  # once

    assert json.loads(registered.run("recovery-points", "--json").stdout) == []
    deleted = json.loads(registered.run("recovery-points", "--deleted", "--json").stdout)
    assert sorted(p["id"] for p in deleted) == sorted(ids)
    assert all(p["purge_after"] for p in deleted)
    registered.run("restore", "latest", "--target", str(tmp_path / "r"), expect=2)
    status = json.loads(registered.run("status", "--json").stdout)["machines"][0]
    assert status["protection"].startswith("stopped (data deleted") and status["next_run"] is None
    (post,) = receiver.wait(1)
    assert post["event"] == "critical-operation" and "backup data deleted" in post["subject"]

    out = registered.run("protection", "undelete", ids[0][:8]).stdout
    assert "1 recovery point(s) brought back" in out
    registered.run("protection", "undelete")
    listed = json.loads(registered.run("recovery-points", "--json").stdout)
    assert sorted(p["id"] for p in listed) == sorted(ids)
    registered.run("restore", "latest", "--target", str(tmp_path / "r"))
    registered.run("protection", "resume")
    assert (
        json.loads(registered.run("status", "--json").stdout)["machines"][0]["protection"] == "on"
    )
    registered.run("backup")  # goes on
    home = Home(registered.home)
    ops = [e.operation for e in open_repository(home, SystemClock()).guards.events()]
    assert ops[0] == "backup data deleted" and "protection resumed" in ops
    registered.run("check")


def test_retain_data_turns_the_agent_schedule_off(registered: Cli, tmp_path: Path) -> None:
    with_points(registered, tmp_path, count=1)
    agent = Agent(Home(registered.home), SystemClock())
    assert agent._policy() is not None
    registered.run("protection", "stop", "--retain-data")
    assert agent._policy() is None
    assert "stopped (data kept)" in registered.run("status").stdout
    assert len(json.loads(registered.run("recovery-points", "--json").stdout)) == 1
    registered.run("protection", "stop", expect=2)
    registered.run("protection", "resume")
    assert agent._policy() is not None
    registered.run("check")


def test_lowering_retention_needs_policy_set_pin(registered: Cli, tmp_path: Path) -> None:
    with_points(registered, tmp_path, count=1)
    lower = tmp_path / "lower.toml"
    lower.write_text(POLICY.format(src=tmp_path / "src", days=7))
    refused = registered.run("policy", "set", "--file", str(lower), expect=2)
    assert "lowering retention (retention.daily.days 30 -> 7)" in refused.stderr
    assert "--pin PIN" in refused.stderr and "`cairn security pin`" in refused.stderr
    assert "days = 30" in registered.run("policy", "show").stdout
    out = registered.run("policy", "set", "--file", str(lower), "--pin", pin(registered)).stdout
    assert "retention lowered: retention.daily.days 30 -> 7" in out
    too_low = tmp_path / "too-low.toml"
    too_low.write_text(POLICY.format(src=tmp_path / "src", days=6))
    assert (
        "allowed: 7 to 9999"
        in registered.run(
            "policy", "set", "--file", str(too_low), "--pin", pin(registered), expect=2
        ).stderr
    )
    registered.run("check")
