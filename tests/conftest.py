"""Shared fixtures: a registered machine on a local vault, and a vault check helper."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cairn.core.clock import SystemClock
from cairn.engine.check import check
from cairn.engine.home import Home
from cairn.engine.session import create_vault, open_repository, register
from cairn.vault.repository import Repository

PASSPHRASE = "correct horse battery staple"


@dataclass
class Machine:
    home: Home
    vault: Path
    tmp: Path

    def repo(self) -> Repository:
        return open_repository(self.home, SystemClock())

    def check_clean(self, read_data: bool = True) -> None:
        result = check(self.repo(), read_data=read_data)
        assert result.errors == [], result.errors


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[Machine]:
    home = Home(tmp_path / "home")
    vault = tmp_path / "vault"
    create_vault(str(vault), SystemClock())
    register(home, str(vault), SystemClock(), machine="testbox", passphrase=PASSPHRASE)
    m = Machine(home, vault, tmp_path)
    yield m


def tree_digest(root: Path) -> dict[str, tuple[str, str]]:
    """path -> (kind, content hash or link target) for everything under root."""
    out: dict[str, tuple[str, str]] = {}
    for dirpath, dirnames, filenames in os.walk(os.fsencode(root)):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.fsdecode(os.path.relpath(full, os.fsencode(root)))
            if os.path.islink(full):
                out[rel] = ("link", os.fsdecode(os.readlink(full)))
            elif os.path.isdir(full):
                out[rel] = ("dir", "")
            elif os.path.isfile(full):
                with open(full, "rb") as f:
                    out[rel] = ("file", hashlib.sha256(f.read()).hexdigest())
            else:
                out[rel] = ("other", "")
    return out
