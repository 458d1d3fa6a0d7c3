"""Back Up Now with a retain-until date after a failed weekly slot takes the slot's place and keeps
the longer of the two, the same way in `policy simulate`, in the CLI's own process and in the agent
(one engine function, `engine.ondemand.back_up`, decides for both)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from cairn.agent.execute import EngineExecutor
from cairn.agent.jobstore import JobStore
from cairn.agent.runner import Runner
from cairn.core.clock import FixedClock
from cairn.engine import settings
from cairn.engine.session import open_repository
from cairn.policy import parse_policy
from tests.cli.conftest import Cli
from tests.conftest import Machine

POLICY = """
[policy]
items = ["{src}"]
timezone = "UTC"
start = {start}

[schedule]
frequency = "daily"
times = ["00:00"]

[retention.daily]
days = 7

[retention.weekly]
days_of_week = ["{weekday}"]
weeks = 4
"""


def _source(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "a.txt").write_text("a\n")
    return src


def _policy_text(src: Path, day: date) -> str:
    return POLICY.format(src=src, start=day.isoformat(), weekday=day.strftime("%a").lower())


def _simulated(cli: Cli, policy: Path, slot: datetime, at: datetime, keep: date) -> dict[str, str]:
    out = cli.run(
        "policy",
        "simulate",
        "--file",
        str(policy),
        "--from",
        f"{slot:%Y-%m-%dT%H:%M}",
        "--until",
        f"{at:%Y-%m-%dT%H:%M:%S}",
        "--fail",
        f"{slot:%Y-%m-%dT%H:%M}",
        "--on-demand",
        f"{at:%Y-%m-%dT%H:%M:%S}={keep.isoformat()}",
        "--json",
    ).stdout
    [point] = [p for p in json.loads(out) if p["trigger"] == "on-demand"]
    return dict(point)


def _keep(keep_days: int, at: datetime) -> date:
    return (at + timedelta(days=keep_days)).date()


def _expected(at: datetime, keep: date) -> datetime:
    """4 weeks from `at` by the failed slot's weekly rule, or the end of `keep` if later."""
    end_of_keep = datetime.combine(keep + timedelta(days=1), datetime.min.time(), UTC)
    return max(at + timedelta(weeks=4), end_of_keep)


@pytest.mark.parametrize("keep_days", [3, 60], ids=["date-shorter", "date-longer"])
def test_agent_and_simulate_agree(
    keep_days: int, machine: Machine, cli: Cli, tmp_path: Path
) -> None:
    slot = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)  # a Saturday, the weekly rule's day
    at = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
    keep = _keep(keep_days, at)
    src = _source(tmp_path)
    text = _policy_text(src, slot.date())
    (tmp_path / "policy.toml").write_text(text)
    clock = FixedClock(at)
    policy = parse_policy(text, default_timezone="UTC", today=slot.date())
    settings.save_policy(machine.home, open_repository(machine.home, clock), policy, at)
    store = JobStore.in_home(machine.home.path)
    store.record_slot(f"{slot:%Y-%m-%dT%H:%M}[UTC]", slot, "failed")
    runner = Runner(store, EngineExecutor(machine.home, clock, store), clock)
    job = runner.submit("backup", "on-demand", {"retain_until": keep.isoformat()})
    runner.run_pending()
    assert store.get(job.id).state == "completed", store.get(job.id).error
    store.close()

    [point] = open_repository(machine.home, clock).list_points()
    assert point.substitutes == "2026-11-28T00:00[UTC]"
    assert point.retain_until == keep.isoformat()
    simulated = _simulated(cli, tmp_path / "policy.toml", slot, at, keep)
    assert simulated["substitutes"] == point.substitutes
    assert datetime.fromisoformat(simulated["expires"]) == _expected(at, keep)

    # The CLI shows the same expiry for the agent's point.
    cli.home = machine.home.path
    shown = json.loads(cli.run("recovery-points", "--json").stdout)
    assert [datetime.fromisoformat(p["expires"]) for p in shown] == [_expected(at, keep)]
    machine.check_clean()


@pytest.mark.parametrize("keep_days", [3, 60], ids=["date-shorter", "date-longer"])
def test_cli_in_process_takes_the_slots_place(
    keep_days: int, registered: Cli, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    slot = now.replace(hour=0, minute=0, second=0, microsecond=0)  # today's only slot, failed
    keep = _keep(keep_days, now)
    src = _source(tmp_path)
    (tmp_path / "policy.toml").write_text(_policy_text(src, slot.date()))
    registered.run("policy", "set", "--file", str(tmp_path / "policy.toml"))
    store = JobStore.in_home(registered.home)
    store.record_slot(f"{slot:%Y-%m-%dT%H:%M}[UTC]", slot, "failed")
    store.close()

    registered.run("backup", "--retain-until", keep.isoformat())
    [point] = json.loads(registered.run("recovery-points", "--json").stdout)
    assert point["substitutes"] == f"{slot:%Y-%m-%dT%H:%M}[UTC]"
    assert point["retain_until"] == keep.isoformat()
    taken = datetime.fromisoformat(point["time"])
    assert datetime.fromisoformat(point["expires"]) == _expected(taken, keep)
    # `policy simulate` of the same backup at the same time (to the second) says the same.
    second = taken.replace(microsecond=0)
    simulated = _simulated(registered, tmp_path / "policy.toml", slot, second, keep)
    assert simulated["substitutes"] == point["substitutes"]
    assert datetime.fromisoformat(simulated["expires"]) == _expected(second, keep)
    registered.run("check")
