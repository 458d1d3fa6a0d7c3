"""`cairn unregister` forgets the key and credentials here and leaves the vault untouched; the
same machine name and passphrase register again and go on with the same store."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from tests.agent.conftest import AgentProcess
from tests.cli.conftest import Cli, snapshot


def test_unregister_then_register_again_goes_on_incrementally(
    registered: Cli, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "big.bin").write_bytes(bytes(range(256)) * 4096)
    hour_ago = time.time() - 3600  # outside the backup's racy window: unchanged next time
    os.utime(src / "big.bin", (hour_ago, hour_ago))
    first = json.loads(registered.run("backup", str(src), "--json").stdout)
    registered.run("alerts", "set", "--webhook", "http://127.0.0.1:9/hook")
    vault = tmp_path / "vault"
    before = snapshot(vault)

    out = registered.run("unregister").stdout
    assert "no longer registered" in out and "--machine clibox" in out
    assert snapshot(vault) == before  # the vault is untouched
    assert not (registered.home / "registration.json").exists()
    assert list((registered.home / "keys").glob("*.key")) == []
    assert not (registered.home / "alerts.json").exists()
    registered.run("status", expect=10)
    registered.run("recovery-points", expect=10)
    registered.run("unregister", expect=10)

    wrong = registered.environ(CAIRN_PASSPHRASE="another passphrase entirely")
    registered.run("register", str(vault), "--machine", "clibox", env=wrong, expect=12)
    registered.run("register", str(vault), "--machine", "clibox")
    points = json.loads(registered.run("recovery-points", "--json").stdout)
    assert [p["id"] for p in points] == [first["recovery_point"]]
    again = json.loads(registered.run("backup", str(src), "--json").stdout)
    assert again["stats"]["files_unchanged"] == 1 and again["stats"]["bytes_added"] == 0
    registered.run("check")


def test_unregister_is_refused_while_the_agent_runs(registered: Cli) -> None:
    agent = AgentProcess(registered, "--no-setup")
    try:
        proc = registered.run("unregister", expect=11)
        assert "stop it first" in proc.stderr
    finally:
        agent.proc.terminate()
        agent.proc.communicate(timeout=60)
    assert (registered.home / "registration.json").exists()


def test_a_first_start_passphrase_is_not_forgotten_silently(registered: Cli) -> None:
    kept = registered.home / "passphrase"
    kept.write_text("correct horse battery staple\n")
    proc = registered.run("unregister", expect=2)
    assert "--forget-passphrase" in proc.stderr and "keep a copy" in proc.stderr
    registered.run("unregister", "--forget-passphrase")
    assert not kept.exists()
