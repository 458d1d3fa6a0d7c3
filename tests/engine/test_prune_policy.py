"""Prune deletes what the policy in force says has expired, from each point's recorded facts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from cairn.core.clock import FixedClock
from cairn.engine.backup import BackupOptions, backup
from cairn.engine.prune import expired_by_policy, prune
from cairn.policy import parse_policy
from cairn.vault.vault import Vault
from tests.conftest import Machine

POLICY = """
[policy]
items = ["/x"]
timezone = "UTC"
start = 2026-01-01

[schedule]
frequency = "daily"
times = ["21:00"]

[retention.daily]
days = {days}
"""


def test_points_older_than_the_daily_rule_go_and_retain_until_is_honoured(machine: Machine) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    t0 = datetime(2026, 3, 1, 21, 0, tzinfo=UTC)
    clock = FixedClock(t0)
    base = machine.repo()
    repo = Vault(base.store, clock).open(base.machine, base.key)
    ids = []
    for day in range(10):
        clock.set(t0 + timedelta(days=day))
        (src / "f").write_text(f"day {day}")
        keep = "2026-12-31" if day == 0 else None
        ids.append(backup(repo, BackupOptions([str(src)], retain_until=keep)).point.id)
    policy = parse_policy(POLICY.format(days=7), default_timezone="UTC", today=date(2026, 1, 1))
    now = t0 + timedelta(days=9, hours=1)
    gone = expired_by_policy(repo.list_points(), policy, now)
    # On-demand points under a daily schedule are kept as daily: 7 days. Day 0 is kept until
    # the end of 2026-12-31 by its retain-until; days 1 and 2 are past seven days.
    assert gone == {ids[1], ids[2]}
    result = prune(repo, gone, now=now, grace=timedelta(0))
    assert sorted(result.points_deleted) == sorted(gone)
    assert {p.id for p in repo.list_points()} == set(ids) - gone
    machine.check_clean()


def test_the_newest_point_never_expires_while_it_is_the_last(machine: Machine) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    (src / "f").write_text("only")
    clock = FixedClock(datetime(2026, 3, 1, 21, 0, tzinfo=UTC))
    base = machine.repo()
    repo = Vault(base.store, clock).open(base.machine, base.key)
    only = backup(repo, BackupOptions([str(src)])).point
    policy = parse_policy(POLICY.format(days=7), default_timezone="UTC", today=date(2026, 1, 1))
    later = datetime(2027, 1, 1, tzinfo=UTC)
    assert expired_by_policy(repo.list_points(), policy, later) == set()
    assert [p.id for p in repo.list_points()] == [only.id]
