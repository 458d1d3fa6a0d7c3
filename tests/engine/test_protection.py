"""Guard rails (engine/protection.py, vault/guards.py) on a real local vault: the PIN (once, 5
minutes), stop with --delete-data (soft delete, 14 days, then purged by prune), undelete, resume,
lowering retention, and the record of every critical operation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from cairn.core.clock import FixedClock
from cairn.core.errors import UsageError
from cairn.engine import protection
from cairn.engine.backup import BackupOptions, backup
from cairn.engine.prune import prune
from cairn.engine.restore import RestoreOptions, restore
from cairn.policy import parse_policy
from cairn.vault.repository import Repository
from cairn.vault.vault import Vault
from tests.conftest import Machine

T0 = datetime(2026, 3, 1, 21, 0, tzinfo=UTC)
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


def policy(days: int = 30):  # type: ignore[no-untyped-def]
    return parse_policy(POLICY.format(days=days), default_timezone="UTC", today=date(2026, 1, 1))


def at(machine: Machine, clock: FixedClock) -> Repository:
    base = machine.repo()
    return Vault(base.store, clock).open(base.machine, base.key)


def three_points(machine: Machine, clock: FixedClock) -> tuple[Repository, list[str]]:
    src = machine.tmp / "src"
    src.mkdir()
    repo = at(machine, clock)
    ids = []
    for day in range(3):
        clock.set(T0 + timedelta(days=day))
        (src / "f").write_text(f"day {day}")
        ids.append(backup(repo, BackupOptions([str(src)])).point.id)
    return repo, ids


def test_a_pin_works_once_and_only_for_five_minutes(machine: Machine) -> None:
    repo = at(machine, FixedClock(T0))
    pin = protection.issue_pin(repo, T0)
    assert len(pin) == 6 and pin.isdigit()
    assert pin not in str(list(repo.store.list(""))) and all(
        pin.encode() not in repo.store.get(i.name)
        for i in repo.store.list(repo.layout.root + "/pins/")
    )
    protection.require_pin(machine.home, repo, pin, T0 + timedelta(minutes=4), "testing")
    with pytest.raises(UsageError, match=r"wrong, expired .* or already used"):
        protection.require_pin(machine.home, repo, pin, T0 + timedelta(minutes=4), "testing")
    late = protection.issue_pin(repo, T0)
    with pytest.raises(UsageError, match="wrong, expired"):
        protection.require_pin(machine.home, repo, late, T0 + timedelta(minutes=5), "testing")
    assert list(repo.store.list(repo.layout.root + "/pins/")) == []  # the expired one is gone
    with pytest.raises(UsageError, match=r"needs a security PIN .* `cairn security pin`"):
        protection.require_pin(machine.home, repo, None, T0, "deleting backup data")
    machine.check_clean()


def test_delete_data_hides_points_undelete_brings_them_back(machine: Machine) -> None:
    clock = FixedClock(T0)
    repo, ids = three_points(machine, clock)
    now = clock.now()
    with pytest.raises(UsageError, match="needs a security PIN"):
        protection.stop(machine.home, repo, now, delete_data=True, pin=None)
    assert all(p.status != "deleted" for p in repo.list_points())
    pin = protection.issue_pin(repo, now)
    assert sorted(protection.stop(machine.home, repo, now, delete_data=True, pin=pin)) == sorted(
        ids
    )
    assert {p.status for p in repo.list_points()} == {"deleted"}
    with pytest.raises(UsageError, match="no recovery points yet"):
        repo.find_point("latest")
    with pytest.raises(UsageError, match="is deleted: `cairn protection undelete"):
        repo.find_point(ids[0][:8])
    assert protection.local_state(machine.home).describe().startswith("stopped (data deleted")
    events = [e.operation for e in repo.guards.events()]
    assert events == ["backup data deleted"]

    # Prune within the 14 days purges nothing and keeps the data whole.
    targets = protection.prune_targets(repo, repo.list_points(), policy(), now + timedelta(days=13))
    assert targets == set()
    prune(repo, targets, now=now + timedelta(days=13), grace=timedelta(0))
    assert protection.undelete(repo, [ids[1][:8]], now) == [ids[1]]
    assert repo.find_point("latest").id == ids[1]
    assert sorted(protection.undelete(repo, [], now)) == sorted([ids[0], ids[2]])
    target = machine.tmp / "back"
    restore(repo, repo.find_point("latest"), RestoreOptions(target=str(target)))
    assert (target / str(machine.tmp / "src" / "f").lstrip("/")).read_text() == "day 2"
    protection.resume(machine.home, repo, now)
    assert protection.local_state(machine.home).protection == "on"
    machine.check_clean()


def test_prune_purges_deleted_points_after_fourteen_days(machine: Machine) -> None:
    clock = FixedClock(T0)
    repo, ids = three_points(machine, clock)
    now = clock.now()
    protection.stop(machine.home, repo, now, delete_data=True, pin=protection.issue_pin(repo, now))
    later = now + timedelta(days=14)
    targets = protection.prune_targets(repo, repo.list_points(), policy(), later)
    assert targets == set(ids)
    result = prune(repo, targets, now=later, grace=timedelta(0))
    protection.forget_purged(repo, result.points_deleted)
    assert repo.list_points() == [] and repo.guards.deleted() == {}
    with pytest.raises(UsageError, match="no deleted recovery point"):
        protection.undelete(repo, [ids[0][:8]], later)
    machine.check_clean()


def test_retain_data_keeps_points_and_the_newest_never_expires(machine: Machine) -> None:
    clock = FixedClock(T0)
    repo, ids = three_points(machine, clock)
    now = clock.now()
    assert protection.stop(machine.home, repo, now, delete_data=False, pin=None) == []
    assert protection.local_state(machine.home).describe() == "stopped (data kept)"
    far = now + timedelta(days=400)
    assert protection.prune_targets(repo, repo.list_points(), policy(7), far) == set(ids[:2])
    assert [e.operation for e in repo.guards.events()] == ["protection stopped"]
    machine.check_clean()


def test_lowering_retention_needs_a_pin_while_security_is_on(machine: Machine) -> None:
    repo = at(machine, FixedClock(T0))
    with pytest.raises(UsageError) as refused:
        protection.check_policy_change(machine.home, repo, policy(30), policy(7), None, T0)
    assert "lowering retention (retention.daily.days 30 -> 7)" in str(refused.value)
    assert "`cairn security pin`" in str(refused.value)
    assert protection.check_policy_change(machine.home, repo, policy(7), policy(30), None, T0) == []
    pin = protection.issue_pin(repo, T0)
    lowered = protection.check_policy_change(machine.home, repo, policy(30), policy(7), pin, T0)
    assert lowered == ["retention.daily.days 30 -> 7"]
    # Security off (itself needs a PIN): lowering then needs none, but is still recorded.
    with pytest.raises(UsageError, match="turning security off needs a security PIN"):
        protection.set_security(machine.home, repo, False, None, T0)
    t1, t2 = T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)
    protection.set_security(machine.home, repo, False, protection.issue_pin(repo, t1), t1)
    assert protection.check_policy_change(machine.home, repo, policy(30), policy(7), None, t2)
    ops = [e.operation for e in repo.guards.events()]
    assert ops == ["retention lowered", "security turned off", "retention lowered"]
    machine.check_clean()


def test_five_wrong_pins_lock_pin_use_for_fifteen_minutes_and_void_the_pins(
    machine: Machine,
) -> None:
    repo = at(machine, FixedClock(T0))
    good = protection.issue_pin(repo, T0)
    wrong = f"{(int(good) + 1) % 10**6:06d}"
    for i in range(4):
        with pytest.raises(UsageError, match=rf"{4 - i} more wrong PIN\(s\) within 15 minutes"):
            protection.require_pin(machine.home, repo, wrong, T0 + timedelta(seconds=i), "t")
    with pytest.raises(UsageError, match="PIN use is locked until 2026-03-01T21:15"):
        protection.require_pin(machine.home, repo, wrong, T0 + timedelta(seconds=5), "t")
    # The right PIN is void now, and no PIN is accepted while locked, even a new one.
    assert list(repo.store.list(repo.layout.root + "/pins/")) == []
    with pytest.raises(UsageError, match="locked until"):
        protection.require_pin(machine.home, repo, good, T0 + timedelta(seconds=6), "t")
    fresh = protection.issue_pin(repo, T0 + timedelta(minutes=10))
    with pytest.raises(UsageError, match="locked until"):
        protection.require_pin(machine.home, repo, fresh, T0 + timedelta(minutes=10), "t")
    assert [e.operation for e in repo.guards.events()] == ["security PIN locked"]
    # 15 minutes after the first wrong try, PINs work again, and the old tries are forgotten.
    later = T0 + timedelta(minutes=15, seconds=1)
    protection.require_pin(machine.home, repo, protection.issue_pin(repo, later), later, "t")
    assert len(repo.guards.pin_failures(later, protection.PIN_LOCKOUT)) == 3  # a sliding window
    machine.check_clean()


def test_a_right_pin_among_wrong_ones_is_accepted_below_the_limit(machine: Machine) -> None:
    repo = at(machine, FixedClock(T0))
    good = protection.issue_pin(repo, T0)
    for _ in range(protection.PIN_TRIES - 1):
        with pytest.raises(UsageError, match="wrong"):
            protection.require_pin(
                machine.home, repo, "000000" if good != "000000" else "1" * 6, T0, "t"
            )
    protection.require_pin(machine.home, repo, good, T0, "t")
    assert repo.guards.events() == []
