"""Shared fixtures: a registered machine on a local vault, and a vault check helper."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import signal
import subprocess
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from cairn.core.clock import SystemClock
from cairn.engine.check import check
from cairn.engine.home import Home
from cairn.engine.session import create_vault, open_repository, register
from cairn.vault.repository import Repository

PASSPHRASE = "correct horse battery staple"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """A process the test's body started and left running (an assertion failed before its
    cleanup) is killed and reaped when the body ends. Left alone, its `Popen` warns "still
    running" when it is collected, in whichever later test that happens, and that test fails
    (the suite turns warnings into errors) for nothing it did. Fixtures' processes are theirs."""
    before = {p.pid for p in psutil.Process().children()}
    try:
        return (yield)
    finally:
        _reap_left_behind(before)


def _reap_left_behind(before: set[int]) -> None:
    left = {p.pid for p in psutil.Process().children()} - before
    if not left:
        return
    for obj in gc.get_objects():
        if isinstance(obj, subprocess.Popen) and obj.pid in left and obj.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if os.getpgid(obj.pid) == obj.pid:
                    os.killpg(obj.pid, signal.SIGKILL)  # its own session: its children too
                else:
                    obj.kill()
            obj.wait()
            for stream in (obj.stdin, obj.stdout, obj.stderr):
                if stream is not None:
                    stream.close()


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
