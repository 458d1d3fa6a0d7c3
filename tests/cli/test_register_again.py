"""Registering again after CAIRN_HOME was lost brings back the policy kept in the vault."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.cli.conftest import Cli
from tests.cli.test_policy_cli import write_policy


def test_registering_again_restores_the_policy_kept_in_the_vault(
    registered: Cli, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("alpha")
    registered.run("policy", "set", "--file", str(write_policy(tmp_path, src)))
    before = json.loads(registered.run("policy", "show", "--json").stdout)
    shutil.rmtree(registered.home)

    proc = registered.run("register", str(tmp_path / "vault"), "--machine", "clibox")
    assert "policy" in proc.stdout and "restored" in proc.stdout
    assert json.loads(registered.run("policy", "show", "--json").stdout) == before
    out = json.loads(registered.run("backup", "--json").stdout)  # the policy's items
    assert out["paths"] == [str(src)]
    registered.run("check")


def test_a_new_machine_has_no_policy_to_restore(cli: Cli, tmp_path: Path) -> None:
    cli.run("vault", "create", str(tmp_path / "vault"))
    proc = cli.run("register", str(tmp_path / "vault"), "--machine", "fresh")
    assert "restored" not in proc.stdout
    cli.run("policy", "show", expect=2)
