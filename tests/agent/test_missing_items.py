"""Items that do not exist: `policy set` refuses them (exit 2, naming the path) unless
--allow-missing; a scheduled run that finds none of them fails loudly, and `agent status` shows it
as the last failure."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

from cairn.agent.execute import EngineExecutor
from cairn.agent.jobstore import JobStore
from cairn.agent.runner import Runner
from cairn.core.clock import FixedClock
from cairn.engine import settings
from cairn.engine.home import Home
from cairn.engine.session import open_repository
from cairn.policy import parse_policy
from tests.agent.conftest import AgentProcess
from tests.cli.conftest import Cli

POLICY = """
[policy]
items = ["{item}"]
timezone = "UTC"

[schedule]
frequency = "daily"
times = ["03:17"]

[retention.daily]
days = 7
"""


def test_policy_set_refuses_a_missing_item(registered: Cli, tmp_path: Path) -> None:
    gone = tmp_path / "usb-drive" / "photos"
    flags = ["--item", str(gone), "--daily", "21:00", "--keep-days", "7"]
    proc = registered.run("policy", "set", *flags, expect=2)
    assert str(gone) in proc.stderr and "--allow-missing" in proc.stderr
    (tmp_path / "policy.toml").write_text(POLICY.format(item=gone))
    proc = registered.run("policy", "set", "--file", str(tmp_path / "policy.toml"), expect=2)
    assert str(gone) in proc.stderr
    assert registered.run("policy", "show", expect=2).returncode == 2  # still no policy
    registered.run("policy", "set", *flags, "--allow-missing")
    shown = json.loads(registered.run("policy", "show", "--json").stdout)
    assert shown["policy"]["items"] == [str(gone)]


def test_a_scheduled_run_without_its_items_fails_and_agent_status_says_so(
    registered: Cli, tmp_path: Path
) -> None:
    drive = tmp_path / "drive"
    drive.mkdir()
    (drive / "a.txt").write_text("a\n")
    text = POLICY.format(item=drive)
    (tmp_path / "policy.toml").write_text(text)
    registered.run("policy", "set", "--file", str(tmp_path / "policy.toml"))
    shutil.rmtree(drive)  # the drive is unplugged

    home = Home(registered.home)
    clock = FixedClock(datetime(2026, 11, 30, 3, 17, tzinfo=UTC))
    policy = parse_policy(text, default_timezone="UTC", today=date(2026, 11, 30))
    settings.save_policy(home, open_repository(home, clock), policy, clock.now())
    store = JobStore.in_home(registered.home)
    runner = Runner(store, EngineExecutor(home, clock, store), clock)
    job = runner.submit("backup", "scheduled", {}, slot="2026-11-30T03:17[UTC]")
    runner.run_pending()
    done = store.get(job.id)
    store.close()
    assert done.state == "failed"
    assert done.exit_code == 1
    assert str(drive) in (done.error or "") and "none of the policy's items exists" in (
        done.error or ""
    )
    assert json.loads(registered.run("recovery-points", "--json").stdout) == []

    agent = AgentProcess(registered, "--no-setup")
    try:
        status = registered.run("agent", "status").stdout
        assert f"last failure: backup job {job.id[:8]} (scheduled, slot 2026-11-30T03:17[UTC])" in (
            status
        )
        assert str(drive) in status
        doc = json.loads(registered.run("agent", "status", "--json").stdout)
        assert doc["last_failure"]["id"] == job.id
        # The machine's health (engine/health.py), as `cairn status` shows it.
        assert "machine clibox: NOT HEALTHY" in status
        assert doc["health"]["failing"] is True and doc["health"]["healthy"] is False
        assert doc["health"]["last_failure"]["job"] == job.id
        assert str(drive) in doc["health"]["last_failure"]["reason"]
    finally:
        agent.proc.terminate()
        try:
            agent.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            agent.proc.kill()
            agent.proc.communicate()
    registered.run("check")


def test_a_scheduled_run_missing_one_of_its_items_backs_up_the_rest_and_fails(
    registered: Cli, tmp_path: Path
) -> None:
    """Some items gone (a drive unplugged, the other folder still there): the point holds what
    exists, and the job fails naming the missing item and the point, never "completed"."""
    here = tmp_path / "documents"
    here.mkdir()
    (here / "report.txt").write_text("kept\n")
    drive = tmp_path / "drive"
    drive.mkdir()
    text = POLICY.format(item=here).replace(f'items = ["{here}"]', f'items = ["{here}", "{drive}"]')
    (tmp_path / "policy.toml").write_text(text)
    registered.run("policy", "set", "--file", str(tmp_path / "policy.toml"))
    drive.rmdir()  # the drive is unplugged

    home = Home(registered.home)
    clock = FixedClock(datetime(2026, 11, 30, 3, 17, tzinfo=UTC))
    store = JobStore.in_home(registered.home)
    runner = Runner(store, EngineExecutor(home, clock, store), clock)
    job = runner.submit("backup", "scheduled", {}, slot="2026-11-30T03:17[UTC]")
    runner.run_pending()
    done = store.get(job.id)
    store.close()
    assert done.state == "failed"
    assert done.exit_code == 1
    assert str(drive) in (done.error or "") and "did not exist" in (done.error or "")
    assert done.recovery_point is not None and done.recovery_point[:8] in (done.error or "")
    points = json.loads(registered.run("recovery-points", "--json").stdout)
    assert [p["id"] for p in points] == [done.recovery_point]
    out = tmp_path / "out"
    registered.run("restore", done.recovery_point, "--target", str(out))
    assert (out / str(here).lstrip("/") / "report.txt").read_text() == "kept\n"
    registered.run("check")
