"""A first start with nothing registered: a local vault under CAIRN_HOME, a passphrase shown once
and kept 0600, the default policy of DESIGN.md; `cairn agent run` on it; a second start changes
nothing."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from cairn.agent.firststart import first_start
from cairn.core.clock import SystemClock
from cairn.engine import settings
from cairn.engine.home import Home
from cairn.engine.session import open_repository
from tests.agent.conftest import AgentProcess, wait_for
from tests.cli.conftest import Cli


def test_first_start_makes_a_vault_and_the_default_policy(tmp_path: Path) -> None:
    home = Home(tmp_path / "user" / ".local" / "share" / "cairn")
    made = first_start(home, SystemClock(), home_folder=tmp_path / "user")
    assert made is not None
    assert made.vault == str(home.path / "vault")
    secret = home.path / "passphrase"
    assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
    assert secret.read_text().strip() == made.passphrase and len(made.passphrase) >= 16
    policy = settings.require_policy(home)
    assert policy.items == (str(tmp_path / "user"),)
    assert set(policy.exclude) >= {".cache", "node_modules", "__pycache__", "*.tmp"}
    assert str(home.path.resolve()) in policy.exclude  # the vault is not backed up into itself
    assert policy.schedule.frequency == "daily" and [
        t.strftime("%H:%M") for t in policy.schedule.times
    ] == ["21:00"]
    assert policy.retention.daily is not None and policy.retention.daily.days == 30
    assert policy.retention.weekly is not None
    assert (policy.retention.weekly.days_of_week, policy.retention.weekly.weeks) == ((6,), 12)
    # The passphrase opens the vault; a second start changes nothing.
    open_repository(home, SystemClock(), passphrase=made.passphrase)
    before = (home.path / "registration.json").read_bytes()
    assert first_start(home, SystemClock(), home_folder=tmp_path / "user") is None
    assert (home.path / "registration.json").read_bytes() == before


def test_agent_run_on_an_empty_home_sets_up_and_backs_up(tmp_path: Path) -> None:
    user = tmp_path / "user"
    (user / "docs").mkdir(parents=True)
    (user / "docs" / "a.txt").write_text("hello\n")
    (user / ".cache").mkdir()
    (user / ".cache" / "junk").write_text("junk\n")
    # No passphrase given: commands use the key the first start kept (unattended, as the agent).
    cli = Cli(user / ".local" / "share" / "cairn", env={"HOME": str(user), "CAIRN_PASSPHRASE": ""})
    agent = AgentProcess(cli)
    try:
        status = agent.client.status()
        assert status["machine"]
        job = agent.client.submit("backup", {})
        done = wait_for(lambda: (j := agent.job(job.id)).done and j)
        assert done.state == "completed", done.error
        listed = cli.run("ls", "latest", str(user), "--json").stdout
        paths = {json.loads(line)["path"] for line in listed.splitlines()}
        assert str(user / "docs" / "a.txt") in paths
        cairn_home = str(cli.home)
        assert not any(p.startswith((str(user / ".cache"), cairn_home)) for p in paths), paths
        runs = cli.run("policy", "next-runs", "--count", "1").stdout
        assert "21:00" in runs
    finally:
        agent.proc.terminate()
        code, out, err = agent.wait()
    assert code == 0, err
    assert "first start: created a vault" in out
    assert "passphrase is kept in" in out
    # Not a terminal: the passphrase itself is not printed (it is in the 0600 file).
    secret = (cli.home / "passphrase").read_text().strip()
    assert secret not in out and secret not in err
    again = subprocess.run(
        [sys.executable, "-m", "cairn.cli.main", "check"],
        env=cli.environ(CAIRN_PASSPHRASE=secret),
        capture_output=True,
        text=True,
    )
    assert again.returncode == 0, again.stderr
