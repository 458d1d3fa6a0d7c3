from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from cairn.fs.conflict import copy_name

WHEN = datetime(2026, 3, 5, 14, 7, 59)


def b(path: Path) -> bytes:
    return os.fsencode(path)


def test_copy_of_then_copy_2_of_then_copy_3_of(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("current")

    first = copy_name(b(tmp_path), b"a.txt", WHEN)
    assert first == b"2026-03-05 14-07 Copy of a.txt"
    (tmp_path / os.fsdecode(first)).write_text("restored once")

    second = copy_name(b(tmp_path), b"a.txt", WHEN)
    assert second == b"2026-03-05 14-07 Copy (2) of a.txt"
    (tmp_path / os.fsdecode(second)).write_text("restored twice")

    assert copy_name(b(tmp_path), b"a.txt", WHEN) == b"2026-03-05 14-07 Copy (3) of a.txt"


def test_a_dangling_symlink_or_a_folder_takes_the_name_too(tmp_path: Path) -> None:
    os.symlink("nowhere", tmp_path / "2026-03-05 14-07 Copy of a.txt")
    (tmp_path / "2026-03-05 14-07 Copy (2) of a.txt").mkdir()

    assert copy_name(b(tmp_path), b"a.txt", WHEN) == b"2026-03-05 14-07 Copy (3) of a.txt"


def test_the_name_keeps_its_raw_bytes(tmp_path: Path) -> None:
    assert copy_name(b(tmp_path), b"r\xe9sum\xe9", WHEN) == b"2026-03-05 14-07 Copy of r\xe9sum\xe9"


def test_the_time_is_used_as_given_with_zero_padding(tmp_path: Path) -> None:
    when = datetime(2026, 1, 2, 3, 4, tzinfo=ZoneInfo("Asia/Tokyo"))

    assert copy_name(b(tmp_path), b"f", when) == b"2026-01-02 03-04 Copy of f"


def test_a_folder_descriptor_works_as_the_folder_and_identical_gets_names(tmp_path: Path) -> None:
    os.symlink("nowhere", tmp_path / "2026-03-05 14-07 Copy of a.txt")
    (tmp_path / "2026-03-05 14-07 Copy (2) of a.txt").write_text("same")
    asked: list[bytes] = []

    def identical(name: bytes) -> bool:
        asked.append(name)
        return b"(2)" in name

    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        got = copy_name(fd, b"a.txt", WHEN, identical)
    finally:
        os.close(fd)
    assert got is None  # "Copy (2) of" already is what would be restored
    assert asked == [b"2026-03-05 14-07 Copy of a.txt", b"2026-03-05 14-07 Copy (2) of a.txt"]
