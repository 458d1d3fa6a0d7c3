"""The agent and an offline initial backup: the first scheduled backup is staged, later slots
wait (recorded "waiting", nothing queued) while the agent's status says why, and once the disks
are imported the next slot runs incrementally against the imported point."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from cairn.agent.execute import EngineExecutor
from cairn.agent.jobstore import JobStore
from cairn.agent.runner import Runner
from cairn.agent.scheduler import Scheduler
from cairn.core.clock import FixedClock
from cairn.engine import offline, settings
from cairn.engine.offline_import import import_disks, read_disks
from cairn.engine.offline_prep import PrepOptions, prep
from cairn.engine.session import open_repository
from cairn.policy import parse_policy
from tests.agent.conftest import AgentProcess, wait_for
from tests.cli.conftest import Cli
from tests.cli.test_offline_cli import disk_args, disks, stage
from tests.conftest import Machine

POLICY = """
[policy]
items = ["{src}"]
timezone = "UTC"
start = 2026-11-26
initial_backup = "offline"

[offline]
staging = "{staging}"
import_job = "agent-seed"

[schedule]
frequency = "daily"
times = ["06:00", "18:00"]

[retention.daily]
days = 7
"""


def test_scheduled_backups_wait_for_the_import_then_run_incrementally(
    machine: Machine, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "big.bin").write_bytes(os.urandom(4 << 20))
    (src / "a.txt").write_text("one\n")
    old = os.stat(src).st_mtime - 3600
    for p in (src / "big.bin", src / "a.txt"):
        os.utime(p, (old, old))
    staging = tmp_path / "staging"
    start = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)
    clock = FixedClock(start)
    text = POLICY.format(src=src, staging=staging)
    policy = parse_policy(text, default_timezone="UTC", today=date(2026, 11, 26))
    settings.save_policy(machine.home, open_repository(machine.home, clock), policy, start)
    store = JobStore.in_home(machine.home.path)
    runner = Runner(store, EngineExecutor(machine.home, clock, store), clock)
    scheduler = Scheduler(
        store,
        runner,
        lambda: settings.load_policy(machine.home),
        hold=lambda: offline.waiting_reason(
            machine.home, lambda: open_repository(machine.home, clock)
        ),
    )

    def drive(until: datetime) -> None:
        t = clock.now()
        while t < until:
            clock.set(t)
            scheduler.tick(t)
            runner.run_pending()
            t += timedelta(minutes=30)
        clock.set(until)

    drive(datetime(2026, 11, 26, 7, 0, tzinfo=UTC))  # Thursday 06:00: the staged backup
    staged = [j for j in store.jobs() if j.kind == "backup"]
    assert [j.state for j in staged] == ["completed"]
    assert staged[0].result is not None
    assert staged[0].result["offline"]["state"] == "awaiting-import"
    assert "cairn offline prep" in staged[0].result["offline"]["next"]
    assert machine.repo().point_ids() == []

    drive(datetime(2026, 11, 27, 19, 0, tzinfo=UTC))  # three more slots: they wait
    assert len([j for j in store.jobs() if j.kind == "backup"]) == 1
    outcomes = {r.slot: r.outcome for r in store.slots_since(start)}
    assert sorted(outcomes.values()) == ["succeeded", "waiting", "waiting", "waiting"]
    reason = store.get_meta("waiting")
    assert reason is not None and "awaiting import" in reason and "agent-seed" in reason

    ds = disks(tmp_path, 1)
    prep(PrepOptions(staging, ds), clock.now().isoformat())
    import_disks(machine.repo(), read_disks(ds))

    drive(datetime(2026, 11, 28, 7, 0, tzinfo=UTC))  # Saturday 06:00 runs, incrementally
    backups = [j for j in store.jobs() if j.kind == "backup"]
    assert len(backups) == 2
    after = max(backups, key=lambda j: j.created)
    assert after.state == "completed" and after.result is not None
    assert "offline" not in after.result
    assert after.result["stats"]["files_unchanged"] == 2
    assert after.result["stats"]["bytes_stored"] < 64 * 1024
    assert store.get_meta("waiting") == ""
    loaded = offline.load_state(machine.home)
    assert loaded is not None and loaded.state == "imported"
    assert len(machine.repo().point_ids()) == 2
    machine.check_clean()


def test_agent_status_and_back_up_now_while_awaiting_import(
    registered: Cli, tmp_path: Path
) -> None:
    _, staging = stage(registered, tmp_path)
    agent = AgentProcess(registered, "--no-setup")
    try:
        first = registered.run("backup")
        assert "awaiting import" in first.stdout
        status = json.loads(registered.run("agent", "status", "--json").stdout)
        assert status["offline"]["state"] == "awaiting-import"
        assert "awaiting import" in registered.run("agent", "status").stdout
        waiting = registered.run("backup", expect=1)
        assert "awaiting import" in waiting.stderr
        ds = disks(tmp_path, 1)
        registered.run("offline", "prep", "--staging", str(staging), *disk_args(ds))
        registered.run("offline", "import", *disk_args(ds))
        wait_for(
            lambda: (
                json.loads(registered.run("agent", "status", "--json").stdout)["offline"]["state"]
                == "imported"
            )
        )
        registered.run("backup")  # a job of the agent, against the imported point
        points = json.loads(registered.run("recovery-points", "--json").stdout)
        assert len(points) == 2
    finally:
        agent.proc.terminate()
        agent.wait()
    registered.run("check", "--read-data")
