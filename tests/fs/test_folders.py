"""fs/folders.py: restore's folders, each reached from its parent's descriptor."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cairn.core.errors import UnsafeTarget
from cairn.fs.folders import DIR_FLAGS, OPEN_AT_MOST, Folder, Folders
from cairn.fs.safety import TEMP_PREFIX, create_new, remove_stale_temps


def chain(folders: Folders, depth: int) -> list[Folder]:
    """`d/d/.../d` made `depth` deep below the root, each folder by descriptor."""
    out = [folders.root]
    for _ in range(depth):
        with folders.held(out[-1]) as fd:
            os.mkdir("d", dir_fd=fd)
            out.append(folders.add(out[-1], b"d", os.open("d", DIR_FLAGS, dir_fd=fd)))
    return out


def test_descriptors_stay_bounded_and_a_closed_folder_opens_again(tmp_path: Path) -> None:
    folders = Folders(os.fsencode(tmp_path))
    made = chain(folders, 3 * OPEN_AT_MOST)
    assert len(folders.fds) <= OPEN_AT_MOST + 1
    with folders.held(made[1]) as fd:  # long closed: opened again from the root, name by name
        assert os.fstat(fd).st_ino == os.stat(tmp_path / "d").st_ino
    with folders.held(made[-1]) as fd:
        create_new(b"leaf", fd)
    assert len(folders.fds) <= OPEN_AT_MOST + 1
    folders.close()
    leaf = tmp_path.joinpath(*["d"] * (3 * OPEN_AT_MOST), "leaf")
    assert leaf.exists()


def test_a_folder_in_use_is_never_closed_under_its_user(tmp_path: Path) -> None:
    folders = Folders(os.fsencode(tmp_path))
    made = chain(folders, 2)
    with folders.held(made[1]) as fd:
        others = [folders.root]
        for i in range(2 * OPEN_AT_MOST):
            with folders.held(folders.root) as root_fd:
                os.mkdir(f"x{i}", dir_fd=root_fd)
                others.append(
                    folders.add(
                        folders.root, b"x%d" % i, os.open(f"x{i}", DIR_FLAGS, dir_fd=root_fd)
                    )
                )
        os.fstat(fd)  # still open: pinned
        assert made[1] in folders.fds
    folders.close()


def test_a_folder_swapped_for_a_symlink_is_refused_when_opened_again(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    folders = Folders(os.fsencode(root))
    made = chain(folders, OPEN_AT_MOST + 4)  # made[1] is closed by now
    assert made[1] not in folders.fds
    os.rename(root / "d", root / "moved")
    os.symlink(outside, root / "d")
    with pytest.raises(UnsafeTarget, match="moved, removed or replaced"):
        folders.acquire(made[1])
    assert os.listdir(outside) == []
    folders.close()


def test_a_stale_temporary_is_removed_through_a_descriptor(tmp_path: Path) -> None:
    dead = TEMP_PREFIX + b"999999999-abc"
    (tmp_path / os.fsdecode(dead)).write_bytes(b"half")
    (tmp_path / "keep.txt").write_text("kept")
    fd = os.open(tmp_path, DIR_FLAGS)
    try:
        assert remove_stale_temps(fd) == 1
    finally:
        os.close(fd)
    assert os.listdir(tmp_path) == ["keep.txt"]
