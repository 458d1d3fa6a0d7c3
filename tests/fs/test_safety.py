from __future__ import annotations

import fcntl
import os
import stat
import subprocess
from pathlib import Path

import pytest

from cairn.core.errors import UnsafePath
from cairn.fs.safety import (
    check_name,
    open_for_restore,
    remove_stale_temps,
    safe_join,
    temp_name,
)


def b(path: Path) -> bytes:
    return os.fsencode(path)


def everything_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


@pytest.fixture
def target(tmp_path: Path) -> Path:
    path = tmp_path / "target"
    path.mkdir()
    return path


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """Somewhere a hostile vault would like restore to write."""
    path = tmp_path / "outside"
    path.mkdir()
    (path / "precious").write_bytes(b"do not touch")
    return path


# --- check_name --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [b"", b".", b"..", b"a/b", b"/", b"/etc", b"..//..", b"a\0b"])
def test_an_unsafe_name_is_refused_as_damage(name: bytes) -> None:
    with pytest.raises(UnsafePath) as caught:
        check_name(name)
    assert caught.value.exit_code == 14


@pytest.mark.parametrize("name", [b"a", b"...", b".hidden", b"a b", b"\xff\xfe", b"..a", b"a\\b"])
def test_an_ordinary_name_passes(name: bytes) -> None:
    check_name(name)


# --- safe_join ---------------------------------------------------------------------------------


def test_safe_join_joins_checked_names(target: Path) -> None:
    assert safe_join(b(target), [b"a", b"b\xff", b"c"]) == b(target) + b"/a/b\xff/c"
    assert safe_join(b"/", [b"home", b"u", b"f.txt"]) == b"/home/u/f.txt"
    assert safe_join(b(target), []) == b(target)


@pytest.mark.parametrize(
    "parts",
    [
        [b"..", b"outside", b"precious"],
        [b"a", b"..", b"..", b"outside"],
        [b"/", b"etc"],
        [b"a", b"/etc/passwd"],
        [b"a\0", b"b"],
        [b"a", b""],
        [b"."],
    ],
)
def test_safe_join_refuses_a_part_that_would_leave_the_target(
    target: Path, outside: Path, parts: list[bytes]
) -> None:
    with pytest.raises(UnsafePath):
        safe_join(b(target), parts)
    assert everything_under(target) == []


def test_a_planted_symlink_directory_is_not_written_through(target: Path, outside: Path) -> None:
    # A hostile vault first restores `evil -> outside`, then names `evil/precious`.
    os.symlink(outside, target / "evil")

    with pytest.raises(UnsafePath, match="evil is a symlink"):
        path = safe_join(b(target), [b"evil", b"precious"])
        fd = open_for_restore(path, truncate=True)
        os.write(fd, b"owned")
        os.close(fd)

    assert everything_under(outside) == ["precious"]
    assert (outside / "precious").read_bytes() == b"do not touch"


def test_a_planted_symlink_deeper_down_is_refused(target: Path, outside: Path) -> None:
    (target / "a" / "b").mkdir(parents=True)
    os.symlink(os.path.relpath(outside, target / "a" / "b"), target / "a" / "b" / "evil")

    with pytest.raises(UnsafePath) as caught:
        safe_join(b(target), [b"a", b"b", b"evil", b"new", b"file"])

    assert str(target / "a" / "b" / "evil") in str(caught.value)
    assert everything_under(outside) == ["precious"]


def test_a_symlink_to_a_directory_inside_the_target_is_refused_too(target: Path) -> None:
    (target / "real").mkdir()
    os.symlink("real", target / "alias")

    with pytest.raises(UnsafePath):
        safe_join(b(target), [b"alias", b"f"])


def test_the_root_itself_may_be_a_symlink(tmp_path: Path, target: Path) -> None:
    os.symlink(target, tmp_path / "via-link")

    assert safe_join(b(tmp_path / "via-link"), [b"f"]) == b(tmp_path / "via-link") + b"/f"


def test_a_file_in_the_way_of_a_folder_is_not_a_directory(target: Path) -> None:
    (target / "a").write_text("a file, where the backup had a folder")

    with pytest.raises(NotADirectoryError):
        safe_join(b(target), [b"a", b"b"])


def test_the_last_part_is_left_to_the_caller(target: Path) -> None:
    os.symlink("/etc", target / "link")

    assert safe_join(b(target), [b"link"]) == b(target / "link")


# --- open_for_restore --------------------------------------------------------------------------


def test_open_for_restore_creates_a_private_file(target: Path) -> None:
    fd = open_for_restore(b(target / "f"), truncate=False)
    try:
        os.write(fd, b"data")
        assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
        assert os.get_blocking(fd)
        assert os.get_inheritable(fd) is False
    finally:
        os.close(fd)

    st = os.lstat(target / "f")
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert (target / "f").read_bytes() == b"data"


def test_open_for_restore_truncates_only_when_asked(target: Path) -> None:
    (target / "f").write_bytes(b"0123456789")

    fd = open_for_restore(b(target / "f"), truncate=False)
    os.write(fd, b"ab")
    os.close(fd)
    assert (target / "f").read_bytes() == b"ab23456789"

    fd = open_for_restore(b(target / "f"), truncate=True)
    os.write(fd, b"xy")
    os.close(fd)
    assert (target / "f").read_bytes() == b"xy"


@pytest.mark.parametrize("truncate", [False, True])
def test_open_for_restore_refuses_a_symlink_at_the_final_name(
    target: Path, outside: Path, truncate: bool
) -> None:
    os.symlink(outside / "precious", target / "f")
    os.symlink(outside / "new", target / "dangling")

    with pytest.raises(UnsafePath, match="is a symlink"):
        open_for_restore(b(target / "f"), truncate=truncate)
    with pytest.raises(UnsafePath, match="is a symlink"):
        open_for_restore(b(target / "dangling"), truncate=truncate)

    assert everything_under(outside) == ["precious"]
    assert (outside / "precious").read_bytes() == b"do not touch"


def test_a_symlink_that_appears_after_the_check_is_still_refused(
    target: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The lstat sees nothing; a symlink is planted before the open: O_NOFOLLOW catches it.

    real_lstat = os.lstat

    def lstat_then_plant(path: bytes) -> os.stat_result:
        try:
            return real_lstat(path)
        except FileNotFoundError:
            os.symlink(outside / "precious", path)
            raise

    monkeypatch.setattr(os, "lstat", lstat_then_plant)

    with pytest.raises(UnsafePath):
        open_for_restore(b(target / "f"), truncate=True)

    assert (outside / "precious").read_bytes() == b"do not touch"


def test_open_for_restore_refuses_a_fifo_without_blocking(target: Path) -> None:
    os.mkfifo(target / "fifo")

    with pytest.raises(FileExistsError):
        open_for_restore(b(target / "fifo"), truncate=True)


def test_open_for_restore_refuses_a_directory(target: Path) -> None:
    (target / "d").mkdir()

    with pytest.raises(FileExistsError):
        open_for_restore(b(target / "d"), truncate=False)


def test_stale_restore_temporaries_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    alive = subprocess.Popen(["sleep", "30"])
    try:
        (tmp_path / f".cairn-restore-{dead.pid}-abc").write_bytes(b"half")
        (tmp_path / ".cairn-restore-oldstyle").write_bytes(b"half")
        (tmp_path / f".cairn-restore-{alive.pid}-def").write_bytes(b"being written")
        (tmp_path / "keep.txt").write_bytes(b"mine")
        os.symlink("/etc/passwd", tmp_path / f".cairn-restore-{dead.pid}-link")
        assert remove_stale_temps(b(tmp_path)) == 2
        assert everything_under(tmp_path) == sorted(
            [f".cairn-restore-{alive.pid}-def", f".cairn-restore-{dead.pid}-link", "keep.txt"]
        )
    finally:
        alive.kill()
        alive.wait()


def test_temp_names_are_fresh_and_recognisable() -> None:
    a, c = temp_name(), temp_name()
    assert a != c
    assert a.startswith(b".cairn-restore-%d-" % os.getpid())
