"""Registering and unlocking: the key kept in CAIRN_HOME, and a given passphrase always checked."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from cairn.core.clock import SystemClock
from cairn.core.errors import NotRegistered, WrongPassphrase
from cairn.engine.session import open_repository, register
from tests.conftest import PASSPHRASE, Machine


def key_file(machine: Machine) -> Path:
    (path,) = (machine.home.path / "keys").iterdir()
    return path


def test_home_files_are_private(machine: Machine) -> None:
    for p in [key_file(machine), machine.home.registration_file]:
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(machine.home.path / "keys").st_mode) == 0o700


def test_a_given_passphrase_is_checked_even_with_a_stored_key(machine: Machine) -> None:
    open_repository(machine.home, SystemClock(), passphrase=PASSPHRASE)
    with pytest.raises(WrongPassphrase):
        open_repository(machine.home, SystemClock(), passphrase="not the right passphrase!")


def test_a_key_file_without_a_verifier_gets_one_from_the_vault(machine: Machine) -> None:
    path = key_file(machine)
    doc = json.loads(path.read_text())
    del doc["passphrase_check"]
    path.write_text(json.dumps(doc))
    with pytest.raises(WrongPassphrase):
        open_repository(machine.home, SystemClock(), passphrase="not the right passphrase!")
    assert "passphrase_check" not in json.loads(path.read_text())
    open_repository(machine.home, SystemClock(), passphrase=PASSPHRASE)
    assert "passphrase_check" in json.loads(path.read_text())


def test_registering_again_with_the_passphrase_keeps_the_same_store(machine: Machine) -> None:
    before = machine.repo().key.secret
    again = register(
        machine.home, str(machine.vault), SystemClock(), machine="testbox", passphrase=PASSPHRASE
    )
    assert not again.new_machine
    assert machine.repo().key.secret == before


def test_another_machine_needs_its_passphrase(machine: Machine, tmp_path: Path) -> None:
    from cairn.engine.home import Home

    other = Home(tmp_path / "other-home")
    register(
        other,
        str(machine.vault),
        SystemClock(),
        machine="laptop",
        passphrase="the laptop's own passphrase",
    )
    with pytest.raises(WrongPassphrase):
        open_repository(machine.home, SystemClock(), machine="laptop", passphrase=PASSPHRASE)
    repo = open_repository(
        machine.home, SystemClock(), machine="laptop", passphrase="the laptop's own passphrase"
    )
    assert repo.machine == "laptop"
    with pytest.raises(NotRegistered):
        open_repository(machine.home, SystemClock(), machine="nosuchbox", passphrase=PASSPHRASE)
