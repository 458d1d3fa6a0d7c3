"""`cairn status [--json]` through the real command: exit 0 healthy, 3 stale or failing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cairn.agent.jobstore import JobStore
from tests.cli.conftest import Cli

POLICY = """
[policy]
items = ["{src}"]
timezone = "UTC"
start = {start}

[schedule]
frequency = "daily"
times = ["00:00", "08:00", "16:00"]

[retention.daily]
days = 7
"""


def registered_days_ago(cli: Cli, days: int) -> None:
    """As if the machine registered `days` ago (registration.json is what status reads)."""
    path = cli.home / "registration.json"
    doc = json.loads(path.read_text())
    doc["registered"] = (datetime.now(UTC) - timedelta(days=days)).isoformat()
    path.write_text(json.dumps(doc))


def set_policy(cli: Cli, tmp_path: Path, start: str) -> Path:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "a.txt").write_text("hello")
    f = tmp_path / "policy.toml"
    f.write_text(POLICY.format(src=src, start=start))
    cli.run("policy", "set", "--file", str(f))
    return src


def status(cli: Cli, expect: int) -> dict[str, object]:
    doc = json.loads(cli.run("status", "--json", expect=expect).stdout)
    assert doc["healthy"] is (expect == 0)
    (machine,) = doc["machines"]
    assert isinstance(machine, dict)
    return machine


def test_no_policy_is_not_healthy(registered: Cli) -> None:
    out = registered.run("status", expect=3).stdout
    assert "NOT HEALTHY" in out and "no backup policy is set" in out


def test_stale_until_a_backup_then_healthy_then_failing(registered: Cli, tmp_path: Path) -> None:
    start = (datetime.now(UTC) - timedelta(days=3)).date().isoformat()
    set_policy(registered, tmp_path, start)
    registered_days_ago(registered, 3)
    stale = status(registered, 3)
    assert stale["stale"] is True and stale["last_success"] is None
    assert "scheduled backups passed without a recovery point ever" in str(stale["problems"])
    assert stale["next_run"] is not None and stale["protection"] == "on"

    registered.run("backup")
    good = status(registered, 0)
    assert good["stale"] is False and good["failing"] is False and good["problems"] == []
    assert good["last_success_point"] and good["points"] == 1
    assert isinstance(good["machine_bytes"], int) and good["machine_bytes"] > 0
    assert isinstance(good["vault_bytes"], int) and good["vault_bytes"] >= good["machine_bytes"]
    text = registered.run("status").stdout
    assert "machine clibox: healthy" in text and "last failure:  none recorded" in text

    # A scheduled backup the agent ran after that point failed: failing until the next point.
    store = JobStore.in_home(registered.home)
    now = datetime.now(UTC)
    job = store.create("backup", "scheduled", now, state="running")
    store.finish(job.id, "failed", now, error="none of the items exist: /gone", exit_code=1)
    store.close()
    bad = status(registered, 3)
    assert bad["failing"] is True
    assert bad["last_failure"]["reason"] == "none of the items exist: /gone"  # type: ignore[index]
    assert "none of the items exist" in registered.run("status", expect=3).stdout

    registered.run("backup")
    again = status(registered, 0)
    assert again["failing"] is False and again["last_failure"] is not None
    registered.run("check")


def test_not_registered_is_exit_10(cli: Cli) -> None:
    cli.run("status", expect=10)


def test_wrong_pins_lock_pin_use_and_status_lists_the_critical_operation(
    registered: Cli, tmp_path: Path
) -> None:
    for left in (4, 3, 2, 1):
        err = registered.run(
            "protection", "stop", "--delete-data", "--pin", "000000", expect=2
        ).stderr
        assert f"{left} more wrong PIN(s)" in err
    err = registered.run("protection", "stop", "--delete-data", "--pin", "000000", expect=2).stderr
    assert "PIN use is locked until" in err and "every PIN issued before is void" in err
    out = registered.run("status", expect=3).stdout
    assert "critical operations (30 days" in out and "security PIN locked" in out
    doc = status(registered, 3)
    ops = doc["critical_operations"]
    assert isinstance(ops, list) and [o["operation"] for o in ops] == ["security PIN locked"]
    assert "protection:    on" in out  # nothing was stopped
