"""Backup and restore round trips on real files."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from cairn.core.events import Reporter
from cairn.engine.backup import BackupOptions, backup
from cairn.engine.listing import find_node
from cairn.engine.restore import RestoreOptions, restore
from cairn.vault.points import RecoveryPoint
from cairn.vault.repository import Repository
from tests.conftest import Machine, tree_digest


def make_tree(src: Path) -> None:
    (src / "docs" / "deep" / "deeper").mkdir(parents=True)
    (src / "empty-folder").mkdir()
    (src / "docs" / "a.txt").write_text("alpha\n" * 1000)
    (src / "docs" / "deep" / "deeper" / "b.txt").write_text("beta")
    (src / "empty-file").write_bytes(b"")
    (src / "big.bin").write_bytes(os.urandom(3 << 20) + b"tail" * 100_000)
    os.symlink("docs/a.txt", src / "link-to-a")
    os.symlink("/nonexistent/target", src / "dangling")
    os.mkfifo(src / "a-fifo")
    (src / "long-name-".__add__("x" * 200)).write_text("long")
    with open(os.path.join(os.fsencode(src), b"latin1-\xe9t\xe9.txt"), "wb") as f:
        f.write(b"not utf-8 name")
    os.link(src / "docs" / "a.txt", src / "hardlink-to-a")
    (src / "exec.sh").write_text("#!/bin/sh\n")
    os.chmod(src / "exec.sh", 0o751)
    os.utime(src / "docs" / "deep" / "deeper" / "b.txt", ns=(1_600_000_000_123_456_789,) * 2)


def test_round_trip_restores_every_kind_of_entry(machine: Machine) -> None:
    src = machine.tmp / "src"
    make_tree(src)
    result = backup(machine.repo(), BackupOptions([str(src)]))
    assert result.warnings == 0
    assert result.point.stats.files == 8
    target = machine.tmp / "restored"
    out = restore(machine.repo(), result.point, RestoreOptions(target=str(target)))
    assert out.damaged == []
    restored = target / str(src).lstrip("/")
    assert tree_digest(restored) == tree_digest(src)
    assert stat.S_ISFIFO(os.lstat(restored / "a-fifo").st_mode)
    assert stat.S_IMODE(os.stat(restored / "exec.sh").st_mode) == 0o751
    b = restored / "docs" / "deep" / "deeper" / "b.txt"
    assert os.stat(b).st_mtime_ns == 1_600_000_000_123_456_789
    assert os.readlink(restored / "dangling") == "/nonexistent/target"
    a = os.stat(restored / "docs" / "a.txt")
    assert os.stat(restored / "hardlink-to-a").st_ino == a.st_ino
    assert a.st_nlink == 2
    machine.check_clean()


def subtree(repo: Repository, point: RecoveryPoint, path: Path) -> bytes | None:
    """The tree id of the folder `path` in `point`."""
    return find_node(repo, repo.load_index(), point.tree, str(path))[1].subtree


def test_unchanged_files_are_not_read_again(machine: Machine) -> None:
    src = machine.tmp / "src"
    make_tree(src)
    first = backup(machine.repo(), BackupOptions([str(src)], racy_window_ns=0))
    second = backup(machine.repo(), BackupOptions([str(src)], racy_window_ns=0))
    assert second.point.stats.files_unchanged == first.point.stats.files
    assert second.point.stats.bytes_read == 0
    assert subtree(machine.repo(), second.point, src) == subtree(machine.repo(), first.point, src)
    (src / "docs" / "a.txt").write_text("changed")
    third = backup(machine.repo(), BackupOptions([str(src)], racy_window_ns=0))
    assert third.point.stats.files_changed == 2  # a.txt and its hard link
    assert third.point.stats.bytes_read == len("changed")
    assert third.point.parent == second.point.id
    machine.check_clean()


def test_exclusions_leave_out_matching_files_and_folders(machine: Machine) -> None:
    src = machine.tmp / "src"
    (src / "keep").mkdir(parents=True)
    (src / "node_modules" / "pkg").mkdir(parents=True)
    (src / "keep" / "a.txt").write_text("a")
    (src / "keep" / "b.tmp").write_text("b")
    (src / "node_modules" / "pkg" / "c.js").write_text("c")
    (src / "cache").mkdir()
    (src / "cache" / "d").write_text("d")
    opts = BackupOptions([str(src)], excludes=["*.tmp", "node_modules", f"{src}/cache"])
    result = backup(machine.repo(), opts)
    target = machine.tmp / "r"
    restore(machine.repo(), result.point, RestoreOptions(target=str(target)))
    restored = target / str(src).lstrip("/")
    assert sorted(tree_digest(restored)) == ["keep", "keep/a.txt"]
    machine.check_clean()


def test_selected_paths_restore_only_those(machine: Machine) -> None:
    src = machine.tmp / "src"
    make_tree(src)
    point = backup(machine.repo(), BackupOptions([str(src)])).point
    target = machine.tmp / "r"
    restore(machine.repo(), point, RestoreOptions([str(src / "docs" / "deep")], str(target)))
    restored = target / str(src).lstrip("/")
    assert sorted(tree_digest(restored)) == [
        "docs",
        "docs/deep",
        "docs/deep/deeper",
        "docs/deep/deeper/b.txt",
    ]


def test_restore_to_original_place_with_each_conflict_mode(machine: Machine) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    (src / "report.txt").write_text("version 1")
    point = backup(machine.repo(), BackupOptions([str(src)])).point
    (src / "report.txt").write_text("version 2")

    restore(machine.repo(), point, RestoreOptions(conflict="skip"))
    assert (src / "report.txt").read_text() == "version 2"

    restore(machine.repo(), point, RestoreOptions(conflict="copy"))
    stamp = point.time.astimezone().strftime("%Y-%m-%d %H-%M")
    assert (src / f"{stamp} Copy of report.txt").read_text() == "version 1"
    assert (src / "report.txt").read_text() == "version 2"
    restore(machine.repo(), point, RestoreOptions(conflict="copy"))
    assert not (src / f"{stamp} Copy (2) of report.txt").exists()  # the copy is identical
    (src / f"{stamp} Copy of report.txt").write_text("edited copy")
    restore(machine.repo(), point, RestoreOptions(conflict="copy"))
    assert (src / f"{stamp} Copy (2) of report.txt").read_text() == "version 1"

    restore(machine.repo(), point, RestoreOptions(conflict="overwrite"))
    assert (src / "report.txt").read_text() == "version 1"
    assert not [p for p in os.listdir(src) if p.startswith(".cairn-restore")]


def test_missing_item_is_a_warning_not_a_silent_skip(machine: Machine) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    (src / "a").write_text("a")
    reporter = Reporter()
    result = backup(machine.repo(), BackupOptions([str(src), str(machine.tmp / "gone")]), reporter)
    assert result.warnings == 1
    assert "gone" in reporter.warnings[0].path
    assert result.point.status == "completed-with-warnings"


def test_socket_is_stored_and_noted_at_restore(machine: Machine) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(src / "sock"))
    try:
        point = backup(machine.repo(), BackupOptions([str(src)])).point
    finally:
        s.close()
    reporter = Reporter()
    restore(machine.repo(), point, RestoreOptions(target=str(machine.tmp / "r")), reporter)
    assert any("socket" in w.message for w in reporter.warnings)


@pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")
def test_owner_is_restored_as_root(machine: Machine) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    (src / "owned").write_text("x")
    os.chown(src / "owned", 1234, 5678)
    point = backup(machine.repo(), BackupOptions([str(src)])).point
    target = machine.tmp / "r"
    restore(machine.repo(), point, RestoreOptions(target=str(target)))
    st = os.stat(target / str(src).lstrip("/") / "owned")
    assert (st.st_uid, st.st_gid) == (1234, 5678)


def test_xattrs_round_trip_where_the_filesystem_has_them(machine: Machine) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    f = src / "tagged"
    f.write_text("x")
    try:
        os.setxattr(f, "user.cairn.test", b"value-1")
    except OSError as e:
        pytest.skip(f"this filesystem refuses user xattrs: {e}")
    point = backup(machine.repo(), BackupOptions([str(src)])).point
    target = machine.tmp / "r"
    restore(machine.repo(), point, RestoreOptions(target=str(target)))
    assert os.getxattr(target / str(src).lstrip("/") / "tagged", "user.cairn.test") == b"value-1"


def test_items_in_several_places_give_sorted_trees(machine: Machine) -> None:
    # "/x-y" sorts before "/x/z" as strings but after "x" as a name: trees are name-ordered.
    (machine.tmp / "x-y").mkdir()
    (machine.tmp / "x-y" / "one").write_text("1")
    (machine.tmp / "x" / "z").mkdir(parents=True)
    (machine.tmp / "x" / "z" / "two").write_text("2")
    repo = machine.repo()
    point = backup(
        repo, BackupOptions([str(machine.tmp / "x-y"), str(machine.tmp / "x" / "z")])
    ).point
    index = repo.load_index()
    node = repo.load_tree(index, point.tree)
    for part in str(machine.tmp).strip("/").split("/"):
        (match,) = [n for n in node if n.name == part.encode()]
        assert match.subtree is not None
        node = repo.load_tree(index, match.subtree)
    assert [n.name for n in node] == [b"x", b"x-y"]
    again = backup(
        repo, BackupOptions([str(machine.tmp / "x-y"), str(machine.tmp / "x" / "z")])
    ).point
    # The folders above the items (/tmp, ...) are recorded too, and other processes change
    # them; below them, nothing changed, so the trees are the same.
    assert subtree(repo, again, machine.tmp) == subtree(repo, point, machine.tmp)
    machine.check_clean()


def test_a_file_that_changes_while_read_is_reported(machine: Machine) -> None:
    import threading

    src = machine.tmp / "src"
    src.mkdir()
    growing = src / "growing.log"
    growing.write_bytes(os.urandom(40 << 20))
    stop = threading.Event()

    def append() -> None:
        # Paced and capped: unpaced, a loaded machine let it outrun the reader and fill the
        # disk (tens of GB in /tmp).
        with open(growing, "ab") as f:
            for _ in range(64 << 10):  # at most 256 MiB
                if stop.wait(0.0005):
                    break
                f.write(b"x" * 4096)
                f.flush()

    writer = threading.Thread(target=append)
    writer.start()
    reporter = Reporter()
    try:
        result = backup(machine.repo(), BackupOptions([str(src)]), reporter)
    finally:
        stop.set()
        writer.join()
    assert result.point.status == "completed-with-warnings"
    assert [w.path for w in reporter.warnings] == [str(growing)]
    assert "changed while it was read" in reporter.warnings[0].message
    machine.check_clean()


def test_deep_paths_longer_than_a_name_round_trip(machine: Machine) -> None:
    src = machine.tmp / "src"
    deep = src
    for i in range(12):
        deep = deep / (f"level-{i:02d}-" + "d" * 90)
    deep.mkdir(parents=True)
    (deep / ("f" * 250)).write_text("at the bottom")
    assert len(str(deep)) > 1100
    point = backup(machine.repo(), BackupOptions([str(src)])).point
    target = machine.tmp / "r"
    restore(machine.repo(), point, RestoreOptions(target=str(target)))
    restored = target / str(deep).lstrip("/") / ("f" * 250)
    assert restored.read_text() == "at the bottom"


@pytest.mark.skipif(os.geteuid() != 0, reason="device nodes need root")
def test_a_device_node_round_trips(machine: Machine) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    try:
        os.mknod(src / "null-like", 0o640 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("this machine refuses mknod (no CAP_MKNOD)")
    point = backup(machine.repo(), BackupOptions([str(src)])).point
    target = machine.tmp / "r"
    restore(machine.repo(), point, RestoreOptions(target=str(target)))
    st = os.lstat(target / str(src).lstrip("/") / "null-like")
    assert stat.S_ISCHR(st.st_mode)
    assert os.major(st.st_rdev) == 1 and os.minor(st.st_rdev) == 3
    assert stat.S_IMODE(st.st_mode) == 0o640


def test_hard_links_far_apart_in_the_walk_are_backed_up(machine: Machine) -> None:
    # The second name is met long after the first one was read (more than a batch later).
    src = machine.tmp / "src"
    (src / "a").mkdir(parents=True)
    (src / "a" / "first").write_bytes(os.urandom(9 << 20))
    (src / "m").mkdir()
    for i in range(600):
        (src / "m" / f"f{i:03d}").write_text(f"filler {i}")
    (src / "z").mkdir()
    os.link(src / "a" / "first", src / "z" / "second")
    point = backup(machine.repo(), BackupOptions([str(src)])).point
    target = machine.tmp / "r"
    restore(machine.repo(), point, RestoreOptions(target=str(target)))
    restored = target / str(src).lstrip("/")
    assert (restored / "z" / "second").read_bytes() == (src / "a" / "first").read_bytes()
    assert os.stat(restored / "z" / "second").st_ino == os.stat(restored / "a" / "first").st_ino
    machine.check_clean()


def test_a_file_written_just_before_the_backup_is_read_again_next_time(machine: Machine) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    (src / "fresh.txt").write_text("v1")
    backup(machine.repo(), BackupOptions([str(src)]))
    again = backup(machine.repo(), BackupOptions([str(src)])).point
    # Its stamps were too recent to trust: the second backup read it again.
    assert again.stats.files_changed == 1 and again.stats.bytes_read == 2


def test_an_item_below_a_symlinked_folder_can_be_restored(machine: Machine) -> None:
    real = machine.tmp / "data-disk" / "home"
    (real / "docs").mkdir(parents=True)
    (real / "docs" / "note.txt").write_text("reached through a symlink")
    os.symlink(real, machine.tmp / "users")  # like /home -> /data/home
    item = machine.tmp / "users" / "docs"
    point = backup(machine.repo(), BackupOptions([str(item)])).point
    target = machine.tmp / "r"
    restore(machine.repo(), point, RestoreOptions([str(item)], str(target)))
    assert (target / str(item).lstrip("/") / "note.txt").read_text() == "reached through a symlink"


def test_overlapping_selections_restore_once(machine: Machine) -> None:
    src = machine.tmp / "src"
    (src / "a" / "b").mkdir(parents=True)
    (src / "a" / "b" / "f.txt").write_text("once")
    point = backup(machine.repo(), BackupOptions([str(src)])).point
    target = machine.tmp / "r"
    paths = [str(src / "a"), str(src / "a" / "b"), str(src / "a") + "/"]
    result = restore(machine.repo(), point, RestoreOptions(paths, str(target)))
    assert result.files == 1
    assert (target / str(src).lstrip("/") / "a" / "b" / "f.txt").read_text() == "once"
