"""The folder browser of the Schedule Backup wizard: one level of this machine's folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cairn.core.errors import UsageError
from cairn.engine.folders import list_folder


def test_lists_folders_first_then_files_without_entering_links(tmp_path: Path) -> None:
    (tmp_path / "b-dir").mkdir()
    (tmp_path / "A-dir").mkdir()
    (tmp_path / "a.txt").write_bytes(b"12345")
    (tmp_path / "link").symlink_to(tmp_path / "b-dir")
    listing = list_folder(str(tmp_path))
    assert [(e.name, e.kind) for e in listing.entries] == [
        ("A-dir", "dir"),
        ("b-dir", "dir"),
        ("a.txt", "file"),
        ("link", "symlink"),
    ]
    assert listing.entries[2].size == 5
    assert listing.entries[0].path == str(tmp_path / "A-dir")
    assert listing.parent == str(tmp_path.parent)
    assert not listing.truncated


def test_root_has_no_parent_and_paths_are_normalised(tmp_path: Path) -> None:
    assert list_folder("/").parent is None
    (tmp_path / "x").mkdir()
    assert list_folder(f"{tmp_path}/x/../x/").path == str(tmp_path / "x")


def test_limit_says_the_listing_stopped(tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"f{i}").touch()
    listing = list_folder(str(tmp_path), limit=3)
    assert [e.name for e in listing.entries] == ["f0", "f1", "f2"]
    assert listing.truncated


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("relative/path", "is not an absolute path"),
        ("", "absolute path"),
    ],
)
def test_bad_paths_are_refused_in_words(given: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        list_folder(given)


def test_missing_paths_and_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=f"{tmp_path}/nope does not exist"):
        list_folder(str(tmp_path / "nope"))
    (tmp_path / "f").touch()
    with pytest.raises(UsageError, match="is not a folder"):
        list_folder(str(tmp_path / "f"))


def test_a_name_that_is_not_unicode_is_shown_escaped_and_not_usable(tmp_path: Path) -> None:
    os.mkdir(os.fsencode(tmp_path) + b"/bad\xff")
    (entry,) = list_folder(str(tmp_path)).entries
    assert entry.name == "bad\\xff"
    assert not entry.usable
