"""With --json, every failing command prints one JSON object on stdout naming the error and the
exit code (the message stays on stderr), so a script parses every outcome."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.cli.conftest import Cli


def _error(proc: subprocess.CompletedProcess[str], code: int) -> str:
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    doc = json.loads(proc.stdout)
    assert doc["exit_code"] == code
    assert doc["error"] and doc["error"] in proc.stderr
    return str(doc["error"])


def test_not_registered_is_json_with_exit_10(cli: Cli) -> None:
    assert "not registered" in _error(cli.run("recovery-points", "--json", expect=None), 10)


def test_bad_input_is_json_with_exit_2(registered: Cli, tmp_path: Path) -> None:
    bad_date = registered.run(
        "backup", str(tmp_path), "--retain-until", "soon", "--json", expect=None
    )
    assert "soon" in _error(bad_date, 2)
    # A flag click itself refuses.
    bad_flag = registered.run("prune", "--json", "--grace-hours", "-1", expect=None)
    assert "grace-hours" in _error(bad_flag, 2)


def test_wrong_passphrase_is_json_with_exit_12(registered: Cli) -> None:
    wrong = registered.environ(CAIRN_PASSPHRASE="this is not the passphrase")
    proc = registered.run("check", "--json", expect=None, env=wrong)
    assert "wrong passphrase" in _error(proc, 12)


def test_damage_is_one_json_document_with_exit_14(registered: Cli, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("some data\n" * 1000)
    registered.run("backup", str(src))
    pack = next(p for p in (tmp_path / "vault").rglob("packs/*/*") if p.is_file())
    pack.unlink()
    proc = registered.run("check", "--json", expect=14)
    doc = json.loads(proc.stdout)  # one document: the check's result, which says what failed
    assert doc["ok"] is False and doc["errors"]


def test_no_agent_is_json_with_exit_1(registered: Cli) -> None:
    proc = registered.run("agent", "status", "--json", expect=1)
    doc = json.loads(proc.stdout)
    assert doc["agent_running"] is False
    assert doc["exit_code"] == 1 and "no agent is running" in doc["error"]


def test_without_json_stdout_stays_empty(cli: Cli) -> None:
    proc = cli.run("recovery-points", expect=10)
    assert proc.stdout == "" and "not registered" in proc.stderr
