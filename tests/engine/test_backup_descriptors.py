"""A backup leaves no descriptor open: the agent runs one backup after another for months."""

from __future__ import annotations

import os

from cairn.engine.ondemand import BackupRequest, back_up
from tests.conftest import Machine


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_backups_one_after_another_leave_no_descriptor_open(machine: Machine) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    for i in range(40):
        (src / f"f{i}").write_bytes(os.urandom(50_000))
    back_up(machine.home, machine.repo(), BackupRequest(paths=[str(src)]))  # imports, caches
    before = open_descriptors()
    for round_ in range(5):
        (src / f"f{round_}").write_bytes(os.urandom(50_000))
        back_up(machine.home, machine.repo(), BackupRequest(paths=[str(src)]))
    # Each backup's worker pool left 8 (its queues' pipes, its workers' sentinels): 40 here.
    assert open_descriptors() - before <= 2
    machine.check_clean()
