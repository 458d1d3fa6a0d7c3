"""The agent as a real process: the CLI through it and without it, a second agent refused,
SIGTERM mid-backup, kill -9 mid-backup."""

from __future__ import annotations

import csv
import json
import os
import signal
import stat
from pathlib import Path

import psutil

from cairn.agent.client import AgentClient
from tests.agent.conftest import AgentProcess, sparse_source, wait_for
from tests.cli.conftest import Cli


def small_source(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    for i in range(30):
        (root / "sub" / f"f{i}.txt").write_text(f"file {i}\n" * (i + 1))
    return root


def test_cli_backs_up_through_the_running_agent(agent: AgentProcess, tmp_path: Path) -> None:
    cli = agent.cli
    src = small_source(tmp_path / "src")
    out = cli.run("backup", str(src), "--json")
    job = json.loads(out.stdout)
    assert job["kind"] == "backup" and job["trigger"] == "on-demand"
    assert job["state"] == "completed" and job["recovery_point"]
    # The recovery point is in the vault, and the agent's history names it.
    points = json.loads(cli.run("recovery-points", "--json").stdout)
    assert [p["id"] for p in points] == [job["recovery_point"]]
    listed = json.loads(cli.run("jobs", "--json").stdout)
    assert [j["id"] for j in listed] == [job["id"]]
    shown = cli.run("jobs", "show", job["id"][:10]).stdout
    assert "state:     completed" in shown and job["recovery_point"] in shown
    # Its summary is sealed into the machine's part of the vault.
    assert (tmp_path / "vault" / "machines" / "clibox" / "jobs" / job["id"]).is_file()
    # Files and modes of the agent's own state.
    home = cli.home
    for name in ("agent.json", "agent.secret", "jobs.sqlite"):
        assert stat.S_IMODE(os.stat(home / name).st_mode) == 0o600, name
    cli.run("check", "--read-data")


def test_detach_returns_at_once_and_jobs_export(agent: AgentProcess, tmp_path: Path) -> None:
    cli = agent.cli
    src = small_source(tmp_path / "src")
    queued = json.loads(cli.run("backup", str(src), "--detach", "--json").stdout)
    assert queued["state"] in ("queued", "running", "completed")
    done = wait_for(lambda: (j := agent.job(queued["id"])).done and j)
    assert done.state == "completed"
    failed = cli.run("backup", str(tmp_path / "missing"), expect=2)
    assert "nothing to back up" in failed.stderr
    out = tmp_path / "jobs.csv"
    cli.run("jobs", "export", "--csv", str(out))
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["state"] for r in rows) == ["completed", "failed"]
    assert {r["kind"] for r in rows} == {"backup"}
    only_failed = json.loads(cli.run("jobs", "--status", "failed", "--json").stdout)
    assert len(only_failed) == 1 and "nothing to back up" in only_failed[0]["error"]
    assert (
        json.loads(cli.run("jobs", "--last", "1", "--json").stdout)[0]["id"] == only_failed[0]["id"]
    )
    cli.run("check")


def test_a_second_agent_is_refused(agent: AgentProcess) -> None:
    second = agent.cli.run("agent", "run", "--no-setup", expect=11)
    assert "another agent already runs" in second.stderr
    assert str(agent.proc.pid) in second.stderr
    assert agent.proc.poll() is None  # the first one goes on
    assert agent.client.status()["pid"] == agent.proc.pid


def test_the_api_refuses_a_wrong_secret(agent: AgentProcess) -> None:
    port = agent.info()["port"]
    wrong = AgentClient(port, "not-the-secret")
    try:
        wrong.jobs()
    except Exception as e:
        assert "secret is missing or wrong" in str(e)
    else:
        raise AssertionError("a wrong secret was accepted")


def test_sigterm_mid_backup_cancels_the_job_and_the_vault_checks(
    agent: AgentProcess, tmp_path: Path
) -> None:
    src = sparse_source(tmp_path / "big")
    job = agent.client.submit("backup", {"paths": [str(src)]})
    wait_for(lambda: agent.job(job.id).state == "running")
    agent.signal(signal.SIGTERM)
    code, _, err = agent.wait()
    assert code == 0, err
    cli = agent.cli
    after = json.loads(cli.run("jobs", "show", job.id, "--json").stdout)
    assert after["state"] == "cancelled", after
    assert after["exit_code"] == 130
    assert json.loads(cli.run("recovery-points", "--json").stdout) == []
    assert not (cli.home / "agent.json").exists()
    cli.run("check", "--read-data")
    # The next backup completes.
    cli.run("backup", str(src / "note1.txt"))
    cli.run("check")


def test_kill_9_mid_backup_fails_the_job_at_the_next_start(registered: Cli, tmp_path: Path) -> None:
    first = AgentProcess(registered, "--no-setup")
    src = sparse_source(tmp_path / "big")
    job = first.client.submit("backup", {"paths": [str(src)]})
    wait_for(lambda: first.job(job.id).state == "running")
    first.signal(signal.SIGKILL)
    first.wait()
    second = AgentProcess(registered, "--no-setup")
    try:
        after = second.job(job.id)
        assert after.state == "failed"
        assert after.error == "the agent stopped while this job was running"
        # The vault is consistent, and the agent goes on working.
        registered.run("check", "--read-data")
        again = second.client.submit("backup", {"paths": [str(src / "note2.txt")]})
        done = wait_for(lambda: (j := second.job(again.id)).done and j)
        assert done.state == "completed", done.error
    finally:
        second.proc.terminate()
        second.wait()
    registered.run("check", "--read-data")


def test_cli_without_an_agent(registered: Cli, tmp_path: Path) -> None:
    src = small_source(tmp_path / "src")
    refused = registered.run("backup", str(src), "--detach", expect=2)
    assert "needs a running agent" in refused.stderr
    registered.run("backup", str(src))
    assert registered.run("jobs").stdout.strip() == "no jobs"
    assert "no job 'abc'" in registered.run("jobs", "cancel", "abc", expect=2).stderr
    registered.run("check")


def test_back_up_now_during_a_backup_is_queued_and_cancel_mid_backup(
    agent: AgentProcess, tmp_path: Path
) -> None:
    cli = agent.cli
    big = sparse_source(tmp_path / "big", gib=64)  # long enough to outlast the cancel
    small = small_source(tmp_path / "src")
    first = agent.client.submit("backup", {"paths": [str(big)]})
    wait_for(lambda: agent.job(first.id).state == "running")
    second = json.loads(cli.run("backup", str(small), "--detach", "--json").stdout)
    assert agent.job(second["id"]).state == "queued"
    assert agent.job(first.id).state == "running"  # one backup at a time
    out = cli.run("jobs", "cancel", first.id[:12]).stdout
    assert "asked to stop" in out or "cancelled" in out
    cancelled = wait_for(lambda: (j := agent.job(first.id)).done and j)
    assert cancelled.state == "cancelled" and cancelled.recovery_point is None
    # The cancelled backup's worker processes are gone (forked workers once inherited the agent's
    # SIGTERM handler, so terminating them did nothing and they read on).
    wait_for(lambda: not psutil.Process(agent.proc.pid).children(), timeout=3)
    done = wait_for(lambda: (j := agent.job(second["id"])).done and j)
    assert done.state == "completed"
    assert cancelled.finished is not None and done.started is not None
    assert cancelled.finished <= done.started
    points = json.loads(cli.run("recovery-points", "--json").stdout)
    assert [p["id"] for p in points] == [done.recovery_point]
    cli.run("check", "--read-data")


def test_cancel_a_queued_job(agent: AgentProcess, tmp_path: Path) -> None:
    big = sparse_source(tmp_path / "big")
    first = agent.client.submit("backup", {"paths": [str(big)]})
    queued = agent.client.submit("check", {"read_data": True})
    wait_for(lambda: agent.job(first.id).state == "running")
    assert agent.client.cancel(queued.id).state == "cancelled"
    agent.client.cancel(first.id)
    wait_for(lambda: agent.job(first.id).done)
    assert agent.job(queued.id).started is None
    bad = agent.cli.run("backup", "--retain-until", "soon", "--detach", expect=2)
    assert "not a date" in bad.stderr
    agent.cli.run("check")
