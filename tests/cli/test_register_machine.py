"""`register VAULT --machine OTHER` in a CAIRN_HOME registered as another machine is refused (exit 2)
unless --force: before, it silently switched this host to a new, empty machine."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Cli


def test_switching_machine_needs_force(registered: Cli, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a\n")
    registered.run("backup", str(src))
    registration = (registered.home / "registration.json").read_text()

    proc = registered.run("register", str(tmp_path / "vault"), "--machine", "otherbox", expect=2)
    assert "registered as machine 'clibox'" in proc.stderr and "--force" in proc.stderr
    assert (registered.home / "registration.json").read_text() == registration
    assert len(json.loads(registered.run("recovery-points", "--json").stdout)) == 1

    # The same machine again (after a reinstall) needs nothing more.
    registered.run("register", str(tmp_path / "vault"), "--machine", "CliBox")
    # --force switches, to a new machine with no recovery points.
    out = registered.run("register", str(tmp_path / "vault"), "--machine", "otherbox", "--force")
    assert "registered new machine 'otherbox'" in out.stdout
    assert json.loads(registered.run("recovery-points", "--json").stdout) == []
    assert "machine otherbox" in registered.run("recovery-points").stdout
    registered.run("check")
