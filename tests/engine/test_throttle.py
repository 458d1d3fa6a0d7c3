"""The throttle setting in CAIRN_HOME, and a backup held to it from end to end."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cairn.core.clock import FixedClock, SystemClock
from cairn.core.errors import CairnError, UsageError
from cairn.core.events import Progress, Reporter
from cairn.engine import throttle as engine_throttle
from cairn.engine.backup import BackupOptions, backup
from cairn.engine.home import Home
from cairn.engine.throttle import (
    RateSchedule,
    load_throttle,
    set_throttle,
    throttle_show,
    throttle_store,
)
from cairn.policy import throttle_from_flags
from cairn.storage.local import LocalBlobStore
from cairn.storage.memory import MemoryBlobStore
from cairn.storage.throttled import BURST_SECONDS, ThrottledBlobStore
from tests.conftest import Machine

OFFICE = {
    "work_hours": "09:00-18:00",
    "work_days": "mon-fri",
    "work_rate": "4Mbps",
    "other_rate": "100Mbps",
    "timezone": "Europe/Berlin",
}


def test_set_show_change_and_off(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    assert load_throttle(home) is None
    t = set_throttle(home, **OFFICE)
    assert t is not None and load_throttle(home) == t
    assert os.stat(home.path / "throttle.json").st_mode & 0o777 == 0o600
    changed = set_throttle(home, other_rate="50Mbps")
    assert changed is not None and changed.other_rate_bps == 50_000_000
    assert changed.work_rate_bps == 4_000_000
    wednesday_10 = FixedClock(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))  # 10:00 in Berlin
    status = throttle_show(home, wednesday_10)
    assert (status.limit_now_bps, status.work_hours_now) == (4_000_000, True)
    assert status.next_change == datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
    assert status.vault is None and not status.applies
    assert set_throttle(home, off=True) is None
    assert json.loads((home.path / "throttle.json").read_text()) == {"enabled": False}
    assert load_throttle(home) is None


def test_a_refused_setting_leaves_the_stored_one_alone(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    set_throttle(home, **OFFICE)
    before = (home.path / "throttle.json").read_bytes()
    with pytest.raises(UsageError, match="--work-rate: 100Kbps is out of range"):
        set_throttle(home, work_rate="100Kbps")
    with pytest.raises(UsageError, match="--off"):
        set_throttle(home, off=True, work_rate="4Mbps")
    assert (home.path / "throttle.json").read_bytes() == before


def test_a_damaged_setting_is_an_error_naming_the_file(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    home.path.mkdir()
    (home.path / "throttle.json").write_text("{not json")
    with pytest.raises(CairnError, match=r"throttle\.json is damaged"):
        load_throttle(home)


def test_only_remote_vaults_are_throttled(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    store = MemoryBlobStore()
    clock = SystemClock()
    assert throttle_store(home, store, "azure://vault/prefix", clock) is store  # off
    set_throttle(home, **OFFICE)
    assert throttle_store(home, store, "/srv/vault", clock) is store
    assert throttle_store(home, store, "file:///srv/vault", clock) is store
    for remote in ("azure://vault/prefix", "s3://bucket/prefix"):
        wrapped = throttle_store(home, store, remote, clock)
        assert isinstance(wrapped, ThrottledBlobStore) and wrapped.inner is store


def test_the_running_rate_switches_at_the_end_of_work_hours() -> None:
    home_clock = FixedClock(datetime(2026, 11, 25, 16, 59, 59, tzinfo=UTC))  # 17:59:59 Berlin
    office = throttle_from_flags(None, **OFFICE, default_timezone="UTC")
    schedule = RateSchedule(office, home_clock)
    assert schedule() == 500_000.0
    home_clock.set(datetime(2026, 11, 25, 17, 0, tzinfo=UTC))
    assert schedule() == 12_500_000.0
    home_clock.set(datetime(2026, 11, 25, 8, 0, tzinfo=UTC))  # the clock went back: 09:00
    assert schedule() == 500_000.0


def test_a_local_vault_is_not_throttled_even_with_the_throttle_on(machine: Machine) -> None:
    set_throttle(machine.home, **OFFICE)
    assert isinstance(machine.repo().store, LocalBlobStore)


def test_a_backup_to_a_remote_vault_is_held_to_the_rate_and_shows_it(
    machine: Machine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The local vault stands in for a remote one; the forked workers inherit the stand-in.
    monkeypatch.setattr(engine_throttle, "is_remote", lambda location: True)
    set_throttle(
        machine.home,
        work_hours="09:00-18:00",
        work_days="mon-sun",
        work_rate="512Kbps",
        other_rate="512Kbps",
    )
    src = machine.tmp / "src"
    src.mkdir()
    (src / "random.bin").write_bytes(os.urandom(150_000))
    limits: list[int | None] = []

    def seen(p: Progress) -> None:
        limits.append(p.limit_bps)

    repo = machine.repo()
    assert isinstance(repo.store, ThrottledBlobStore)
    start = time.monotonic()
    result = backup(repo, BackupOptions([str(src)]), Reporter(on_progress=seen))
    elapsed = time.monotonic() - start
    rate = 64_000  # 512Kbps in bytes a second
    stored = result.point.stats.bytes_stored
    assert stored > 150_000
    # At least the packs went through the bucket (the index, point and locks add to it).
    assert elapsed >= (stored - BURST_SECONDS * rate) / rate
    assert elapsed < (stored + 50_000) / rate  # nor much longer: the rest is small
    assert limits and set(limits) == {512_000}
    machine.check_clean()
