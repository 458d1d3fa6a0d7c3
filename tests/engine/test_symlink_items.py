"""An item that is a symlink to a folder is backed up as that folder, under the item's path."""

from __future__ import annotations

import os

from cairn.engine.backup import BackupOptions, backup
from cairn.engine.restore import RestoreOptions, restore
from tests.conftest import Machine, tree_digest


def test_an_item_given_through_a_symlink_to_a_folder_is_backed_up_as_the_folder(
    machine: Machine,
) -> None:
    real = machine.tmp / "data" / "projects"
    (real / "sub").mkdir(parents=True)
    (real / "a.txt").write_text("alpha")
    (real / "sub" / "b.txt").write_text("beta")
    os.symlink("../a.txt", real / "sub" / "link-inside")  # a link inside the tree stays a link
    item = machine.tmp / "projects"
    os.symlink(real, item)

    result = backup(machine.repo(), BackupOptions([str(item)]))
    assert result.point.stats.files == 2
    target = machine.tmp / "restored"
    restore(machine.repo(), result.point, RestoreOptions(target=str(target)))
    restored = target / str(item).lstrip("/")
    assert restored.is_dir() and not restored.is_symlink()
    assert tree_digest(restored) == tree_digest(real)
    assert os.readlink(restored / "sub" / "link-inside") == "../a.txt"

    # An incremental run through the same link reads nothing again and sees a new file.
    (real / "c.txt").write_text("gamma")
    again = backup(machine.repo(), BackupOptions([str(item)], racy_window_ns=0))
    assert again.point.stats.files == 3
    machine.check_clean()


def test_an_item_that_is_a_symlink_to_a_file_stays_a_link(machine: Machine) -> None:
    (machine.tmp / "file.txt").write_text("x")
    os.symlink("file.txt", machine.tmp / "link")
    result = backup(machine.repo(), BackupOptions([str(machine.tmp / "link")]))
    target = machine.tmp / "restored"
    restore(machine.repo(), result.point, RestoreOptions(target=str(target)))
    assert os.readlink(target / str(machine.tmp / "link").lstrip("/")) == "file.txt"
    machine.check_clean()
