"""`cairn recovery-points` shows when each point expires and what keeps it, and names the machine;
`prune --dry-run` lists the points it would delete with the reason (text and JSON)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

from cairn.agent.execute import EngineExecutor
from cairn.agent.jobstore import JobStore
from cairn.agent.runner import Runner
from cairn.core.clock import FixedClock
from cairn.engine import settings
from cairn.engine.expiry import point_retention
from cairn.engine.ondemand import BackupRequest, back_up
from cairn.engine.session import open_repository
from cairn.policy import parse_policy
from tests.cli.conftest import Cli
from tests.conftest import Machine

POLICY = """
[policy]
items = ["{src}"]
timezone = "UTC"
start = 2026-11-01

[schedule]
frequency = "daily"
times = ["00:00"]

[retention.daily]
days = 7

[retention.weekly]
days_of_week = ["sat"]
weeks = 4
"""


def _take(machine: Machine, at: datetime, **request: str) -> str:
    repo = open_repository(machine.home, FixedClock(at))
    return back_up(machine.home, repo, BackupRequest(**request)).point.id  # type: ignore[arg-type]


def _setup(machine: Machine, src: Path) -> None:
    src.mkdir()
    (src / "a.txt").write_text("a\n")
    policy = parse_policy(POLICY.format(src=src), default_timezone="UTC", today=date(2026, 11, 1))
    at = datetime(2026, 11, 1, tzinfo=UTC)
    settings.save_policy(machine.home, open_repository(machine.home, FixedClock(at)), policy, at)


def test_expiry_and_rules_are_shown(machine: Machine, cli: Cli, tmp_path: Path) -> None:
    _setup(machine, tmp_path / "src")
    saturday = _take(
        machine,
        datetime(2026, 11, 14, 0, 0, 5, tzinfo=UTC),
        trigger="scheduled",
        slot="2026-11-14T00:00[UTC]",
    )
    friday = _take(
        machine,
        datetime(2026, 11, 20, 0, 0, 5, tzinfo=UTC),
        trigger="scheduled",
        slot="2026-11-20T00:00[UTC]",
    )
    wednesday = _take(
        machine,
        datetime(2026, 12, 2, 0, 0, 5, tzinfo=UTC),
        trigger="scheduled",
        slot="2026-12-02T00:00[UTC]",
    )
    kept = _take(machine, datetime(2026, 12, 2, 10, 0, tzinfo=UTC), retain_until="2037-01-31")
    cli.home = machine.home.path

    shown = {p["id"]: p for p in json.loads(cli.run("recovery-points", "--json").stdout)}
    assert shown[saturday]["expires"] == "2026-12-12T00:00:00+00:00"
    assert shown[saturday]["kept_by"] == ["weekly"]
    assert shown[saturday]["slot"] == "2026-11-14T00:00[UTC]"
    assert shown[friday]["expires"] == "2026-11-27T00:00:00+00:00"
    assert shown[friday]["kept_by"] == []
    assert shown[wednesday]["kept_by"] == ["daily"]
    assert shown[kept]["kept_by"] == ["retain-until"]
    assert shown[kept]["retain_until"] == "2037-01-31"
    assert shown[kept]["expires"] == "2037-02-01T00:00:00+00:00"

    text = cli.run("recovery-points", env=cli.environ(TZ="UTC")).stdout
    assert "recovery points of machine testbox" in text
    line = next(i for i, s in enumerate(text.splitlines()) if s.startswith(saturday[:8]))
    assert "weekly 4 w" in text.splitlines()[line]
    assert "2026-12-12T00:00:00+00:00" in text.splitlines()[line]
    assert "fills 2026-11-14T00:00[UTC]" in text.splitlines()[line + 1]
    assert "retain-until 2037-01-31" in text

    dry = json.loads(cli.run("prune", "--dry-run", "--json").stdout)
    assert [(p["id"], p["reason"]) for p in dry["expiring"]] == [
        (friday, "expired 2026-11-27T00:00:00+00:00 (daily 7 d)")
    ]
    dry_text = cli.run("prune", "--dry-run").stdout
    assert f"would delete {friday[:8]}" in dry_text and "(daily 7 d)" in dry_text
    assert len(open_repository(machine.home, FixedClock(datetime.now(UTC))).list_points()) == 4
    machine.check_clean()


def test_the_last_point_is_kept_while_it_is_the_last(
    machine: Machine, cli: Cli, tmp_path: Path
) -> None:
    _setup(machine, tmp_path / "src")
    only = _take(
        machine,
        datetime(2026, 11, 20, 0, 0, 5, tzinfo=UTC),
        trigger="scheduled",
        slot="2026-11-20T00:00[UTC]",
    )
    cli.home = machine.home.path
    [shown] = json.loads(cli.run("recovery-points", "--json").stdout)
    assert (shown["id"], shown["expires"], shown["kept_by"]) == (only, None, ["last"])
    policy = settings.load_policy(machine.home)
    repo = open_repository(machine.home, FixedClock(datetime.now(UTC)))
    [r] = point_retention(repo.list_points(), policy, datetime(2026, 12, 3, tzinfo=UTC))
    assert not r.expired and r.reason == "kept while it is the last recovery point"
    assert json.loads(cli.run("prune", "--dry-run", "--json").stdout)["expiring"] == []
    machine.check_clean()


def test_the_agents_prune_lists_what_it_deletes_and_why(machine: Machine, tmp_path: Path) -> None:
    _setup(machine, tmp_path / "src")
    friday = _take(
        machine,
        datetime(2026, 11, 20, 0, 0, 5, tzinfo=UTC),
        trigger="scheduled",
        slot="2026-11-20T00:00[UTC]",
    )
    _take(
        machine,
        datetime(2026, 12, 2, 0, 0, 5, tzinfo=UTC),
        trigger="scheduled",
        slot="2026-12-02T00:00[UTC]",
    )
    clock = FixedClock(datetime(2026, 12, 3, 12, 0, tzinfo=UTC))
    store = JobStore.in_home(machine.home.path)
    runner = Runner(store, EngineExecutor(machine.home, clock, store), clock)
    # One at a time: two jobs submitted at one instant of a fixed clock have no defined order.
    dry = runner.submit("prune", "on-demand", {"dry_run": True})
    runner.run_pending()
    real = runner.submit("prune", "on-demand", {})
    runner.run_pending()
    reason = "expired 2026-11-27T00:00:00+00:00 (daily 7 d)"
    for job in (dry, real):
        result = store.get(job.id).result or {}
        assert [(p["id"], p["reason"]) for p in result["expiring"]] == [(friday, reason)]
    store.close()
    assert friday not in {p.id for p in open_repository(machine.home, clock).list_points()}
    machine.check_clean()
