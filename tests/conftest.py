"""Shared fixtures: a registered machine on a local vault, and a vault check helper."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cairn.core.clock import SystemClock
from cairn.engine.check import check
from cairn.engine.home import Home
from cairn.engine.session import create_vault, open_repository, register
from cairn.vault.repository import Repository

PASSPHRASE = "correct horse battery staple"


_born_in_call: list[subprocess.Popen[bytes]] | None = None
_popen_init = subprocess.Popen.__init__


def _recording_init(self: subprocess.Popen[bytes], *args: object, **kwargs: object) -> None:
    _popen_init(self, *args, **kwargs)  # type: ignore[arg-type]
    if _born_in_call is not None:
        _born_in_call.append(self)


subprocess.Popen.__init__ = _recording_init  # type: ignore[method-assign, assignment]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """Record the processes the test's body starts (directly or through a function a fixture
    handed it), so that those still running once the test's fixtures are torn down can be reaped."""
    global _born_in_call
    _born_in_call = []
    item.stash[_BORN] = _born_in_call
    try:
        return (yield)
    finally:
        _born_in_call = None


_BORN = pytest.StashKey[list[subprocess.Popen[bytes]]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, object, object]:
    """A process the test's body started and nobody stopped (an assertion failed before its
    cleanup) is killed and reaped after the teardown, when the fixtures have had their turn to
    stop theirs. Left alone, its `Popen` warns "still running" when it is collected, in
    whichever later test that happens, and that test fails (the suite turns warnings into
    errors) for nothing it did."""
    try:
        return (yield)
    finally:
        _reap_left_behind(item.stash.get(_BORN, []))


def _reap_left_behind(born: list[subprocess.Popen[bytes]]) -> None:
    for proc in born:
        if proc.poll() is not None:
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if os.getpgid(proc.pid) == proc.pid:
                os.killpg(proc.pid, signal.SIGKILL)  # its own session: its children too
            else:
                proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    born.clear()


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
