"""A full or read-only vault can still be read from (restore, ls, check), and prune can free a
full one: the lock these need is skipped with a warning when it cannot be written."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from cairn.core.clock import SystemClock
from cairn.core.errors import NoSpace
from cairn.core.events import Reporter
from cairn.engine.backup import BackupOptions, backup
from cairn.engine.check import check
from cairn.engine.home import Home
from cairn.engine.prune import prune
from cairn.engine.restore import RestoreOptions, restore
from cairn.engine.session import create_vault, open_repository, register
from tests.cli.conftest import Cli
from tests.conftest import PASSPHRASE, Machine, tree_digest
from tests.tmpfs import fill, tmpfs


@pytest.fixture
def small_vault(tmp_path: Path) -> Iterator[Machine]:
    with tmpfs(tmp_path / "vault", size="4m") as vault:
        home = Home(tmp_path / "home")
        create_vault(str(vault), SystemClock())
        register(home, str(vault), SystemClock(), machine="fullbox", passphrase=PASSPHRASE)
        yield Machine(home, vault, tmp_path)


def source(m: Machine, name: str, size: int) -> Path:
    src = m.tmp / name
    src.mkdir()
    (src / "data.bin").write_bytes(os.urandom(size))
    (src / "note.txt").write_text(f"note of {name}")
    return src


def lock_warnings(reporter: Reporter) -> list[str]:
    return [w.message for w in reporter.warnings if "lock" in w.message]


def test_a_full_vault_restores_and_checks_with_a_warning(small_vault: Machine) -> None:
    m = small_vault
    src = source(m, "src", 200_000)
    point = backup(m.repo(), BackupOptions([str(src)])).point
    fill(m.vault)
    with pytest.raises(NoSpace):  # nothing can be written there: the lock itself is refused
        m.repo().locks.acquire(exclusive=False, purpose="backup")
    reporter = Reporter()
    target = m.tmp / "restored"
    restore(m.repo(), point, RestoreOptions(target=str(target)), reporter)
    assert tree_digest(target / str(src).lstrip("/")) == tree_digest(src)
    (warning,) = lock_warnings(reporter)
    assert "full" in warning and "without a lock" in warning
    reporter = Reporter()
    result = check(m.repo(), read_data=True, reporter=reporter)
    assert result.errors == []
    assert lock_warnings(reporter)


def test_prune_frees_a_full_vault_by_deleting_expired_points_first(small_vault: Machine) -> None:
    m = small_vault
    # Each expired point frees a page of the tmpfs: prune needs one for its lock, one for its
    # state and two for the index it writes before the old segments go.
    old = [
        backup(m.repo(), BackupOptions([str(source(m, f"old{i}", 150_000))])).point
        for i in range(6)
    ]
    keep_src = source(m, "keep", 100_000)
    kept = backup(m.repo(), BackupOptions([str(keep_src)])).point
    filler = fill(m.vault)
    expired = {p.id for p in old}
    clock = SystemClock()
    first = prune(m.repo(), expired, now=clock.now(), grace=timedelta(0))
    assert first.points_kept == 1 and first.packs_waiting >= 1
    assert sorted(first.points_deleted) == sorted(expired)
    assert {p.id for p in m.repo().list_points()} == {kept.id}
    # The next run deletes the data only the expired points used (its first sight was run 1).
    second = prune(m.repo(), set(), now=clock.now(), grace=timedelta(0))
    assert second.packs_deleted >= 1 and second.bytes_reclaimed >= 900_000
    filler.unlink()
    target = m.tmp / "restored"
    restore(m.repo(), kept, RestoreOptions(target=str(target)))
    assert tree_digest(target / str(keep_src).lstrip("/")) == tree_digest(keep_src)
    m.check_clean()


@pytest.fixture
def read_only_vault(machine: Machine) -> Iterator[Machine]:
    yield machine
    subprocess.run(["umount", str(machine.vault)], check=False)


def test_a_read_only_vault_restores_lists_and_checks_with_a_warning(
    read_only_vault: Machine,
) -> None:
    m = read_only_vault
    src = source(m, "src", 50_000)
    point = backup(m.repo(), BackupOptions([str(src)])).point
    subprocess.run(["mount", "--bind", str(m.vault), str(m.vault)], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", str(m.vault)], check=True)
    repo = open_repository(m.home, SystemClock())
    assert [p.id for p in repo.list_points()] == [point.id]
    reporter = Reporter()
    target = m.tmp / "restored"
    restore(repo, point, RestoreOptions(target=str(target)), reporter)
    assert tree_digest(target / str(src).lstrip("/")) == tree_digest(src)
    (warning,) = lock_warnings(reporter)
    assert "read-only" in warning or "cannot be written" in warning
    reporter = Reporter()
    assert check(repo, read_data=True, reporter=reporter).errors == []
    assert lock_warnings(reporter)


def test_through_the_cli_a_read_only_vault_lists_restores_and_checks(
    read_only_vault: Machine,
) -> None:
    m = read_only_vault
    src = source(m, "src", 10_000)
    backup(m.repo(), BackupOptions([str(src)]))
    subprocess.run(["mount", "--bind", str(m.vault), str(m.vault)], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", str(m.vault)], check=True)
    cli = Cli(m.home.path)
    cli.run("recovery-points")
    assert "note.txt" in cli.run("ls", "latest", str(src)).stdout
    proc = cli.run("restore", "latest", "--target", str(m.tmp / "out"), expect=3)
    assert "without a lock" in proc.stderr
    proc = cli.run("check", "--read-data")
    assert "without a lock" in proc.stderr and "no problems found" in proc.stdout
    proc = cli.run("backup", str(src), expect=1)  # a writer is refused, naming the cause
    assert "Read-only file system" in proc.stderr
