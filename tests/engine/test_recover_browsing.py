"""Recover Data's engine side: points by day, a point's tree folder by folder, search by name,
and another machine's store opened with a vault credentials file and its passphrase."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cairn.core.clock import SystemClock
from cairn.core.errors import UsageError, WrongPassphrase
from cairn.engine.backup import BackupOptions, backup
from cairn.engine.credentials import VaultCredentials, write_file
from cairn.engine.home import Home
from cairn.engine.other_machine import machines_in, open_machine
from cairn.engine.point_browser import list_folder, search
from cairn.engine.point_days import month_grid, nearby_months, points_by_day
from cairn.engine.session import register
from tests.conftest import PASSPHRASE, Machine


def _source(root: Path) -> Path:
    src = root / "src"
    (src / "docs" / "deep").mkdir(parents=True)
    (src / "docs" / "Report.txt").write_text("report")
    (src / "docs" / "deep" / "old-report.md").write_text("old")
    (src / "photo.jpg").write_bytes(b"jpg")
    os.symlink("docs", src / "link")
    return src


def test_a_point_is_browsed_one_folder_at_a_time(machine: Machine) -> None:
    src = _source(machine.tmp)
    point = backup(machine.repo(), BackupOptions([str(src)])).point
    repo = machine.repo()
    top = list_folder(repo, point, str(src))
    assert [(e.name, e.kind) for e in top] == [
        ("docs", "dir"),
        ("link", "symlink"),
        ("photo.jpg", "file"),
    ]
    assert top[0].path == f"{src}/docs"
    docs = list_folder(repo, point, f"{src}/docs")
    assert [(e.name, e.size) for e in docs] == [("deep", 0), ("Report.txt", 6)]
    root = list_folder(repo, point, "/")
    assert [e.name for e in root] == [str(src).split("/")[1]]
    with pytest.raises(UsageError, match="is not a folder"):
        list_folder(repo, point, f"{src}/photo.jpg")
    with pytest.raises(UsageError, match="is not in the recovery point"):
        list_folder(repo, point, f"{src}/nothing")
    machine.check_clean()


def test_search_finds_names_ignoring_case_and_stops_when_told(machine: Machine) -> None:
    src = _source(machine.tmp)
    point = backup(machine.repo(), BackupOptions([str(src)])).point
    repo = machine.repo()
    found = search(repo, point, "REPORT")
    assert [m.path for m in found.matches] == [
        f"{src}/docs/Report.txt",
        f"{src}/docs/deep/old-report.md",
    ]
    assert found.stopped == "" and found.damaged == []
    assert [m.name for m in search(repo, point, "report", under=f"{src}/docs/deep").matches] == [
        "old-report.md"
    ]
    few = search(repo, point, "report", max_matches=1)
    assert len(few.matches) == 1 and "1 matches" in few.stopped
    shallow = search(repo, point, "old", max_folders=2)
    assert shallow.matches == [] and "2 folders" in shallow.stopped
    with pytest.raises(UsageError, match="type part of a file"):
        search(repo, point, "  ")
    machine.check_clean()


def test_points_by_day_in_the_zone_asked(machine: Machine) -> None:
    src = _source(machine.tmp)
    first = backup(machine.repo(), BackupOptions([str(src)])).point
    second = backup(machine.repo(), BackupOptions([str(src)])).point
    zone = ZoneInfo("Pacific/Kiritimati")  # UTC+14: the local date may differ from UTC's
    days = points_by_day(machine.repo().list_points(), zone)
    day = first.time.astimezone(zone).date()
    assert [p.id for p in days[day]] == [first.id, second.id][: len(days[day])]
    assert sum(len(v) for v in days.values()) == 2
    assert days[day][0].time.tzinfo == zone
    machine.check_clean()


def test_month_grid_starts_on_monday() -> None:
    grid = month_grid(2026, 12)
    assert grid[0] == [None, date(2026, 12, 1), *[date(2026, 12, d) for d in range(2, 7)]]
    assert grid[-1][:4] == [date(2026, 12, d) for d in (28, 29, 30, 31)] and grid[-1][4] is None
    assert nearby_months(2026, 1) == ((2025, 12), (2026, 2))
    assert nearby_months(2026, 12) == ((2026, 11), (2027, 1))


@pytest.fixture
def creds(machine: Machine, tmp_path: Path) -> Path:
    path = tmp_path / "vault-credentials.json"
    vault_id = machine.home.registration().vault_id
    write_file(path, VaultCredentials(str(machine.vault), vault_id, "t", {}))
    return path


def test_another_machine_is_opened_with_the_file_and_its_passphrase(
    machine: Machine, creds: Path, tmp_path: Path
) -> None:
    src = _source(tmp_path)
    point = backup(machine.repo(), BackupOptions([str(src)])).point
    laptop = Home(tmp_path / "laptop")
    register(laptop, None, SystemClock(), credentials_file=creds, machine="laptop",
             passphrase="the laptop's own passphrase")  # fmt: skip
    assert machines_in(creds, SystemClock()) == ["laptop", "testbox"]
    other = open_machine(creds, "TestBox", PASSPHRASE, SystemClock())
    assert other.machine == "testbox"
    assert [p.id for p in other.list_points()] == [point.id]
    with pytest.raises(WrongPassphrase) as wrong:
        open_machine(creds, "testbox", "not the passphrase at all", SystemClock())
    assert wrong.value.exit_code == 12
    machine.check_clean()


def test_a_credentials_file_of_another_vault_gets_registers_words(
    machine: Machine, tmp_path: Path
) -> None:
    path = tmp_path / "other.json"
    write_file(path, VaultCredentials(str(machine.vault), "cd" * 16, "t", {}))
    with pytest.raises(UsageError, match=r"is for vault cdcd.*or the file is for another vault"):
        open_machine(path, "testbox", PASSPHRASE, SystemClock())
    with pytest.raises(UsageError, match="is for vault cdcd"):
        machines_in(path, SystemClock())
    machine.check_clean()
