"""Backups read from btrfs snapshots (`[snapshot] kind = "btrfs"`): on a real btrfs filesystem, in a
loop-mounted image (root, btrfs-progs: `.ci/snapshot-tools.sh` installs it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from cairn.core.errors import SnapshotFailed, UsageError
from cairn.core.events import Reporter
from cairn.engine import snapshot as snapshot_module
from cairn.engine.listing import find_node
from cairn.engine.ondemand import BackupRequest, back_up
from cairn.engine.restore import RestoreOptions, restore
from cairn.policy import Policy, parse_policy
from cairn.policy.parsing import policy_from_json, policy_to_json
from tests.conftest import Machine, tree_digest

POLICY = """
[policy]
items = [{items}]
timezone = "UTC"
[schedule]
frequency = "daily"
times = ["21:00"]
[retention.daily]
days = 7
[snapshot]
{snapshot}
"""


def policy(items: list[Path], snapshot: str = 'kind = "btrfs"') -> Policy:
    text = POLICY.format(items=", ".join(f'"{i}"' for i in items), snapshot=snapshot)
    return parse_policy(text, default_timezone="UTC", today=date(2026, 3, 1))


def _btrfs_can_run() -> str | None:
    if os.geteuid() != 0:
        return "needs root to mount a loop device"
    for tool in ("mkfs.btrfs", "btrfs"):
        if shutil.which(tool) is None:
            return f"{tool} is missing (bash .ci/snapshot-tools.sh installs btrfs-progs)"
    return None


@pytest.fixture
def btrfs(tmp_path: Path) -> Iterator[Path]:
    """A fresh btrfs filesystem, mounted; yields its mount point."""
    why = _btrfs_can_run()
    if why is not None:
        pytest.skip(why)
    image, mnt = tmp_path / "btrfs.img", tmp_path / "btrfs"
    with open(image, "wb") as f:
        f.truncate(320 << 20)
    subprocess.run(["mkfs.btrfs", "-q", str(image)], check=True, capture_output=True)
    mnt.mkdir()
    done = subprocess.run(["mount", "-o", "loop", str(image), str(mnt)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot loop-mount a btrfs image here: {done.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def subvolume(path: Path) -> Path:
    subprocess.run(["btrfs", "subvolume", "create", str(path)], check=True, capture_output=True)
    return path


def fill(srv: Path) -> None:
    (srv / "docs").mkdir()
    (srv / "docs" / "ledger.txt").write_text("balance 100\n")
    (srv / "big.bin").write_bytes(os.urandom(3 << 20))
    os.link(srv / "big.bin", srv / "big-link.bin")
    os.symlink("docs/ledger.txt", srv / "ledger-link")
    an_hour_ago = time.time() - 3600  # older than the racy window: unchanged files are trusted
    for f in ("docs/ledger.txt", "big.bin"):
        os.utime(srv / f, (an_hour_ago, an_hour_ago))


def snapshots_in(folder: Path) -> list[str]:
    return [n for n in os.listdir(folder) if n.startswith(".cairn-snapshot-")]


def test_the_point_is_the_moment_of_the_snapshot_not_the_files_changed_during_the_backup(
    machine: Machine, btrfs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    srv = subvolume(btrfs / "srv")
    fill(srv)
    real_run = snapshot_module._run

    def snapshot_then_change_the_live_files(args: list[str]) -> tuple[int, str]:
        done = real_run(args)
        if args[:3] == ["btrfs", "subvolume", "snapshot"]:
            # The live data moves on while the backup reads: the point must not see it.
            (srv / "docs" / "ledger.txt").write_text("balance 0, half-written\n")
            (srv / "new-during-backup.txt").write_text("not in the point")
        return done

    monkeypatch.setattr(snapshot_module, "_run", snapshot_then_change_the_live_files)
    before = tree_digest(srv)
    repo = machine.repo()
    result = back_up(machine.home, repo, BackupRequest(), Reporter(), policy=policy([srv]))
    assert result.warnings == 0
    assert (srv / "new-during-backup.txt").exists()
    assert snapshots_in(srv) == [], "the backup's snapshot is deleted after it"

    target = machine.tmp / "restored"
    restore(repo, result.point, RestoreOptions(target=str(target)))
    restored = target / str(srv).lstrip("/")
    assert tree_digest(restored) == before
    assert (restored / "big.bin").stat().st_ino == (restored / "big-link.bin").stat().st_ino
    machine.check_clean()


def test_the_next_backup_trusts_unchanged_files_and_records_the_live_device(
    machine: Machine, btrfs: Path
) -> None:
    srv = subvolume(btrfs / "srv")
    fill(srv)
    repo = machine.repo()
    p = policy([srv])
    first = back_up(machine.home, repo, BackupRequest(), Reporter(), policy=p)
    (srv / "docs" / "ledger.txt").write_text("balance 120\n")
    os.utime(srv / "docs" / "ledger.txt", (time.time() - 60, time.time() - 60))
    second = back_up(machine.home, machine.repo(), BackupRequest(), Reporter(), policy=p)
    stats = second.point.stats
    assert first.point.stats.bytes_read > 3 << 20
    # A snapshot is a device of its own each time: without mapping the device number back,
    # every file would be read again.
    assert stats.files_changed == 1 and stats.bytes_read == len("balance 120\n"), stats
    third = back_up(machine.home, machine.repo(), BackupRequest(), Reporter(), policy=p)
    assert third.point.stats.bytes_read == 0
    # The folders' trees are the same trees, not rewritten for a new device number. (The
    # subvolume's root folder itself changes: making the snapshot in it sets its mtime.)
    repo = machine.repo()
    index = repo.load_index()
    docs = [find_node(repo, index, r.point.tree, str(srv / "docs"))[1] for r in (second, third)]
    assert docs[0].subtree == docs[1].subtree
    assert docs[0].dev == os.lstat(srv).st_dev
    machine.check_clean()


def test_a_nested_subvolume_is_snapshotted_too_not_backed_up_empty(
    machine: Machine, btrfs: Path
) -> None:
    srv = subvolume(btrfs / "srv")
    (srv / "top.txt").write_text("top")
    nested = subvolume(srv / "home")
    (nested / "alice.txt").write_text("alice's file")
    before = tree_digest(srv)
    repo = machine.repo()
    result = back_up(machine.home, repo, BackupRequest(), Reporter(), policy=policy([srv]))
    assert snapshots_in(srv) == [] and snapshots_in(nested) == []
    target = machine.tmp / "restored"
    restore(repo, result.point, RestoreOptions(target=str(target)))
    assert tree_digest(target / str(srv).lstrip("/")) == before
    machine.check_clean()


def test_an_item_inside_a_subvolume_is_read_from_the_subvolume_s_snapshot(
    machine: Machine, btrfs: Path
) -> None:
    srv = subvolume(btrfs / "srv")
    fill(srv)
    repo = machine.repo()
    result = back_up(machine.home, repo, BackupRequest(), Reporter(), policy=policy([srv / "docs"]))
    target = machine.tmp / "restored"
    restore(repo, result.point, RestoreOptions(target=str(target)))
    restored = target / str(srv / "docs").lstrip("/")
    assert (restored / "ledger.txt").read_text() == "balance 100\n"
    assert snapshots_in(srv) == []
    machine.check_clean()


def test_a_snapshot_a_killed_backup_left_is_deleted_by_the_next_one(
    machine: Machine, btrfs: Path
) -> None:
    srv = subvolume(btrfs / "srv")
    fill(srv)
    gone = subprocess.Popen(["true"])
    gone.wait()
    stale = srv / f".cairn-snapshot-{gone.pid}-deadbeef"
    subprocess.run(
        ["btrfs", "subvolume", "snapshot", "-r", str(srv), str(stale)],
        check=True,
        capture_output=True,
    )
    repo = machine.repo()
    result = back_up(machine.home, repo, BackupRequest(), Reporter(), policy=policy([srv]))
    assert snapshots_in(srv) == []
    root = repo.load_tree_entries(repo.load_index(), result.point.tree)
    assert all(".cairn-snapshot" not in repr(e) for e in root)
    machine.check_clean()


def test_a_required_snapshot_that_cannot_be_made_fails_the_backup_with_no_point(
    machine: Machine,
) -> None:
    src = machine.tmp / "src"  # not on btrfs
    src.mkdir()
    (src / "a.txt").write_text("a")
    repo = machine.repo()
    with pytest.raises(SnapshotFailed) as failed:
        back_up(machine.home, repo, BackupRequest(), Reporter(), policy=policy([src]))
    assert str(src) in str(failed.value) and "not on a btrfs subvolume" in str(failed.value)
    assert "no recovery point" in str(failed.value)
    assert machine.repo().list_points() == []
    machine.check_clean()


def test_an_optional_snapshot_that_cannot_be_made_is_a_warning_and_the_live_files_are_read(
    machine: Machine,
) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    (src / "a.txt").write_text("a")
    reporter = Reporter()
    p = policy([src], 'kind = "btrfs"\nrequired = false')
    result = back_up(machine.home, machine.repo(), BackupRequest(), reporter, policy=p)
    assert result.warnings == 1
    assert "the live files are read" in reporter.warnings[0].message
    assert result.point.stats.files == 1
    machine.check_clean()


def test_explicit_paths_read_the_live_files_as_hooks_do_not_run_for_them(
    machine: Machine,
) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    (src / "a.txt").write_text("a")
    result = back_up(
        machine.home,
        machine.repo(),
        BackupRequest(paths=[str(src)]),
        Reporter(),
        policy=policy([src]),
    )
    assert result.warnings == 0 and result.point.stats.files == 1
    machine.check_clean()


def test_the_snapshot_section_is_checked_and_kept() -> None:
    p = policy([Path("/srv")], 'kind = "btrfs"\nrequired = false')
    assert policy_from_json(policy_to_json(p)).snapshot == p.snapshot
    assert "snapshot" not in policy_to_json(policy([Path("/srv")], ""))
    with pytest.raises(UsageError, match=r"pre hook.*lvcreate"):
        policy([Path("/srv")], 'kind = "lvm"')
    with pytest.raises(UsageError, match=r'snapshot\.kind.*allowed: "none", "btrfs"'):
        policy([Path("/srv")], 'kind = "zfs"')
    with pytest.raises(UsageError, match=r"snapshot\.required"):
        policy([Path("/srv")], 'kind = "btrfs"\nrequired = "yes"')
    with pytest.raises(UsageError, match=r"unknown key snapshot\.path"):
        policy([Path("/srv")], 'path = "/x"')
