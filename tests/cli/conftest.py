"""Run the real `cairn` command in a subprocess, with its own CAIRN_HOME."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PASSPHRASE = "correct horse battery staple"


@dataclass
class Cli:
    home: Path
    env: dict[str, str] = field(default_factory=dict)

    def environ(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
        env.update(CAIRN_HOME=str(self.home), CAIRN_PASSPHRASE=PASSPHRASE)
        env.update(self.env)
        env.update(extra)
        return env

    def run(
        self,
        *args: str,
        expect: int | None = 0,
        env: dict[str, str] | None = None,
        prefix: Sequence[str] = (),
    ) -> subprocess.CompletedProcess[str]:
        cmd = [*prefix, sys.executable, "-m", "cairn.cli.main", *args]
        proc = subprocess.run(
            cmd,
            env=env or self.environ(),
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )
        if expect is not None:
            assert proc.returncode == expect, (proc.returncode, proc.stdout, proc.stderr)
        return proc


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "home")


@pytest.fixture
def registered(cli: Cli, tmp_path: Path) -> Cli:
    cli.run("vault", "create", str(tmp_path / "vault"))
    cli.run("register", str(tmp_path / "vault"), "--machine", "clibox")
    return cli


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes: to prove nothing was written."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out[str(p.relative_to(root))] = p.read_bytes()
    return out
