"""A local user swaps a folder for a symlink while a restore writes into it: since restore opens
every folder from its parent's descriptor and writes relative to it (fs/folders.py), nothing is
written through the symlink, outside the target."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from cairn.core.errors import UnsafeTarget
from cairn.engine import restore as restore_module
from cairn.engine.backup import BackupOptions, backup
from cairn.engine.restore import RestoreOptions, restore
from cairn.fs.folders import OPEN_AT_MOST
from tests.conftest import Machine


def source(machine: Machine, folders: int, files: int, size: int = 4096) -> Path:
    src = machine.tmp / "src"
    for d in range(folders):
        sub = src / "a" / f"d{d:03}"
        sub.mkdir(parents=True)
        for i in range(files):
            (sub / f"f{i}.bin").write_bytes(os.urandom(size))
    return src


def swap_for_symlink(folder: Path, outside: Path) -> Path:
    """Move `folder` aside and put a symlink to `outside` in its place; returns where it went."""
    moved = folder.with_name(folder.name + ".moved")
    os.rename(folder, moved)
    os.symlink(outside, folder)
    return moved


def everything_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def swap_before_data(monkeypatch: pytest.MonkeyPatch, folder: Path, outside: Path) -> list[Path]:
    """Swap `folder` once planning is done, just before the first byte of data is written (the
    window a path-based restore left open between its checks and its writes)."""
    moved: list[Path] = []
    real = restore_module._Restorer.restore_data

    def swapping(self: restore_module._Restorer) -> None:
        moved.append(swap_for_symlink(folder, outside))
        real(self)

    monkeypatch.setattr(restore_module._Restorer, "restore_data", swapping)
    return moved


def test_a_folder_swapped_for_a_symlink_before_the_data_is_written_is_not_followed(
    machine: Machine, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = source(machine, folders=1, files=20)
    point = backup(machine.repo(), BackupOptions([str(src)])).point
    target = machine.tmp / "target"
    outside = machine.tmp / "outside"
    outside.mkdir()
    restored = target / str(src).lstrip("/") / "a" / "d000"
    moved = swap_before_data(monkeypatch, restored, outside)
    result = restore(machine.repo(), point, RestoreOptions(target=str(target)))
    assert everything_under(outside) == []
    # The folder restore opened is the one it writes in, wherever it was moved to (inside the
    # target): the files are whole there.
    assert result.files == 20 and result.damaged == []
    assert sorted(p.name for p in moved[0].iterdir()) == sorted(f"f{i}.bin" for i in range(20))
    for i in range(20):
        assert (moved[0] / f"f{i}.bin").read_bytes() == (
            src / "a" / "d000" / f"f{i}.bin"
        ).read_bytes()
    machine.check_clean()


def test_a_swapped_folder_opened_again_is_refused_by_name(
    machine: Machine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # More folders than restore keeps open: the first one's descriptor is closed before its
    # data is written, so it is opened again by name, O_NOFOLLOW, and the symlink is refused.
    src = source(machine, folders=OPEN_AT_MOST + 20, files=1)
    point = backup(machine.repo(), BackupOptions([str(src)])).point
    target = machine.tmp / "target"
    outside = machine.tmp / "outside"
    outside.mkdir()
    swapped = target / str(src).lstrip("/") / "a" / "d000"
    swap_before_data(monkeypatch, swapped, outside)
    with pytest.raises(UnsafeTarget, match="d000 was moved, removed or replaced") as e:
        restore(machine.repo(), point, RestoreOptions(target=str(target)))
    assert e.value.exit_code == 1  # a local problem, not damage in the vault
    assert everything_under(outside) == []
    machine.check_clean()


def test_a_folder_swapped_for_another_real_folder_is_noticed_by_its_identity(
    machine: Machine, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = source(machine, folders=OPEN_AT_MOST + 20, files=1)
    point = backup(machine.repo(), BackupOptions([str(src)])).point
    target = machine.tmp / "target"
    swapped = target / str(src).lstrip("/") / "a" / "d000"
    real = restore_module._Restorer.restore_data

    def swapping(self: restore_module._Restorer) -> None:
        os.rename(swapped, swapped.with_name("elsewhere"))
        swapped.mkdir()
        real(self)

    monkeypatch.setattr(restore_module._Restorer, "restore_data", swapping)
    with pytest.raises(UnsafeTarget, match="replaced by another folder"):
        restore(machine.repo(), point, RestoreOptions(target=str(target)))
    assert list(swapped.iterdir()) == []


def test_a_folder_swapped_back_and_forth_during_the_restore_never_leads_a_write_outside(
    machine: Machine,
) -> None:
    src = source(machine, folders=OPEN_AT_MOST + 36, files=4, size=64 << 10)
    point = backup(machine.repo(), BackupOptions([str(src)])).point
    target = machine.tmp / "target"
    outside = machine.tmp / "outside"
    outside.mkdir()
    victims = [target / str(src).lstrip("/") / "a" / f"d{d:03}" for d in range(0, 100, 7)]
    stop = threading.Event()
    swaps = 0

    def racer() -> None:
        nonlocal swaps
        while not stop.is_set():
            for v in victims:
                try:
                    moved = swap_for_symlink(v, outside)
                except OSError:
                    continue  # not made yet, or restore stopped
                swaps += 1
                time.sleep(0.002)  # the symlink stays a moment, as a real attacker's would
                os.unlink(v)
                os.rename(moved, v)

    thread = threading.Thread(target=racer)
    thread.start()
    try:
        for _ in range(3):
            try:
                restore(machine.repo(), point, RestoreOptions(target=str(target), workers=2))
            except UnsafeTarget:
                pass  # refused by name: what must not happen is a write through the link
    finally:
        stop.set()
        thread.join()
    assert swaps > 0
    assert everything_under(outside) == []
    machine.check_clean()
