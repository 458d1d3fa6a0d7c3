from __future__ import annotations

import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cairn.fs.walk import FsEntry, kind_of, list_dir, stat_entry


def b(path: Path) -> bytes:
    return os.fsencode(path)


def test_list_dir_sorts_non_utf8_names_by_their_bytes(tmp_path: Path) -> None:
    names = [b"b", b"a\xff", b"\xe9t\xe9", b"A", b"a", b"a\x01", b"Z"]
    for name in names:
        (tmp_path / os.fsdecode(name)).write_bytes(name)

    entries = list_dir(b(tmp_path))

    assert [e.name for e in entries] == sorted(names)
    assert [e.name for e in entries] == [b"A", b"Z", b"a", b"a\x01", b"a\xff", b"b", b"\xe9t\xe9"]
    for entry in entries:
        assert entry.path == b(tmp_path) + b"/" + entry.name
        assert entry.kind == "file"
        assert entry.st.st_ino == os.lstat(entry.path).st_ino
        assert entry.st.st_size == len(entry.name)


def test_kinds_of_a_file_dir_fifo_socket_symlink_and_dangling_symlink(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir").mkdir()
    os.mkfifo(tmp_path / "fifo")
    os.symlink("file", tmp_path / "link")
    os.symlink("no-such-target", tmp_path / "dangling")
    os.symlink("dir", tmp_path / "dirlink")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(os.fsdecode(tmp_path / "sock"))
        kinds = {e.name: e.kind for e in list_dir(b(tmp_path))}
    finally:
        sock.close()

    assert kinds == {
        b"dangling": "symlink",
        b"dir": "dir",
        b"dirlink": "symlink",
        b"fifo": "fifo",
        b"file": "file",
        b"link": "symlink",
        b"sock": "socket",
    }


def test_a_symlink_entry_carries_its_own_lstat_not_its_targets(tmp_path: Path) -> None:
    (tmp_path / "target").write_bytes(b"0123456789")
    os.symlink("target", tmp_path / "link")

    (link,) = [e for e in list_dir(b(tmp_path)) if e.name == b"link"]

    assert stat.S_ISLNK(link.st.st_mode)
    assert link.st.st_size == len(b"target")


def test_stat_entry_of_a_device_and_of_a_dangling_symlink(tmp_path: Path) -> None:
    os.symlink("nowhere", tmp_path / "dangling")

    assert stat_entry(b"/dev/null").kind == "chardev"
    entry = stat_entry(b(tmp_path / "dangling"))
    assert entry == FsEntry(b"dangling", b(tmp_path / "dangling"), "symlink", entry.st)
    assert stat.S_ISLNK(entry.st.st_mode)


def test_stat_entry_makes_a_relative_path_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)

    entry = stat_entry(b"sub/")

    assert entry.path == b(tmp_path / "sub")
    assert entry.name == b"sub"
    assert entry.kind == "dir"


def test_stat_entry_of_the_root_has_an_empty_name() -> None:
    entry = stat_entry(b"/")
    assert (entry.name, entry.path, entry.kind) == (b"", b"/", "dir")


def test_stat_entry_raises_for_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        stat_entry(b(tmp_path / "missing"))


@pytest.mark.parametrize(
    ("file_type", "kind"),
    [
        (stat.S_IFREG, "file"),
        (stat.S_IFDIR, "dir"),
        (stat.S_IFLNK, "symlink"),
        (stat.S_IFIFO, "fifo"),
        (stat.S_IFSOCK, "socket"),
        (stat.S_IFCHR, "chardev"),
        (stat.S_IFBLK, "blockdev"),
    ],
)
def test_kind_of_every_file_type(file_type: int, kind: str) -> None:
    assert kind_of(file_type | 0o4755) == kind


def test_kind_of_an_unknown_file_type_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown file type 0o160000"):
        kind_of(0o160000 | 0o644)  # a BSD whiteout


def test_list_dir_raises_for_what_cannot_be_listed(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileNotFoundError):
        list_dir(b(tmp_path / "missing"))
    with pytest.raises(NotADirectoryError):
        list_dir(b(tmp_path / "file"))


def test_list_dir_of_an_empty_directory(tmp_path: Path) -> None:
    assert list_dir(b(tmp_path)) == []


class _VanishingEntry:
    """A DirEntry whose file was deleted after the listing named it."""

    def __init__(self, entry: os.DirEntry[bytes]) -> None:
        self.name = entry.name
        self.path = entry.path

    def stat(self, *, follow_symlinks: bool = True) -> os.stat_result:
        raise FileNotFoundError(2, "No such file or directory", self.path)


def test_an_entry_that_vanishes_between_listing_and_stat_is_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a", "gone", "z"):
        (tmp_path / name).write_text(name)
    real_scandir = os.scandir

    class Listing:
        def __init__(self, path: bytes) -> None:
            self._inner = real_scandir(path)

        def __enter__(self) -> Iterator[Any]:
            return (_VanishingEntry(e) if e.name == b"gone" else e for e in self._inner.__enter__())

        def __exit__(self, *exc: object) -> None:
            self._inner.__exit__(None, None, None)

    monkeypatch.setattr(os, "scandir", Listing)

    assert [e.name for e in list_dir(b(tmp_path))] == [b"a", b"z"]


def test_a_stat_failure_other_than_vanishing_is_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a").write_text("a")
    real_scandir = os.scandir

    class Denied:
        def __init__(self, entry: os.DirEntry[bytes]) -> None:
            self.name, self.path = entry.name, entry.path

        def stat(self, *, follow_symlinks: bool = True) -> os.stat_result:
            raise PermissionError(13, "Permission denied", self.path)

    class Listing:
        def __init__(self, path: bytes) -> None:
            self._inner = real_scandir(path)

        def __enter__(self) -> Iterator[Any]:
            return (Denied(e) for e in self._inner.__enter__())

        def __exit__(self, *exc: object) -> None:
            self._inner.__exit__(None, None, None)

    monkeypatch.setattr(os, "scandir", Listing)

    with pytest.raises(PermissionError):
        list_dir(b(tmp_path))
