"""Pre- and post-backup hooks (engine/hooks.py through engine/ondemand.back_up), real processes."""

from __future__ import annotations

import threading
import time
from datetime import date
from pathlib import Path

import pytest

from cairn.core.errors import HookFailed, Interrupted
from cairn.core.events import Reporter
from cairn.engine.listing import list_point
from cairn.engine.ondemand import BackupRequest, back_up
from cairn.policy import Policy, parse_policy
from tests.conftest import Machine

POLICY = """
[policy]
items = ["{src}"]
timezone = "UTC"
[schedule]
frequency = "daily"
times = ["21:00"]
[retention.daily]
days = 7
[hooks]
{hooks}
"""


def policy(src: Path, hooks: str) -> Policy:
    text = POLICY.format(src=src, hooks=hooks)
    return parse_policy(text, default_timezone="UTC", today=date(2026, 3, 1))


def source(machine: Machine) -> Path:
    src = machine.tmp / "src"
    src.mkdir()
    (src / "data.txt").write_text("live data")
    return src


def test_a_pre_hook_dump_is_in_the_point_and_post_hooks_see_the_outcome(machine: Machine) -> None:
    src = source(machine)
    log = machine.tmp / "post.log"
    p = policy(
        src,
        f'pre = ["echo dumping; echo dump > {src}/dump.sql"]\n'
        f'post = ["echo $CAIRN_HOOK $CAIRN_BACKUP_STATUS $CAIRN_RECOVERY_POINT > {log}"]',
    )
    repo = machine.repo()
    result = back_up(machine.home, repo, BackupRequest(), Reporter(), policy=p)
    assert [h["phase"] for h in result.hooks] == ["pre", "post"]
    assert result.hooks[0]["output"] == "dumping\n" and result.hooks[0]["exit_code"] == 0
    assert log.read_text() == f"post completed {result.point.id}\n"
    assert result.warnings == 0
    names = [str(e.path) for e in list_point(repo, result.point, str(src))]
    assert any(n.endswith("dump.sql") for n in names), names
    machine.check_clean()


def test_a_required_pre_hook_that_fails_fails_the_job_with_no_point(machine: Machine) -> None:
    src = source(machine)
    log = machine.tmp / "post.log"
    p = policy(
        src,
        'pre = ["echo cannot reach the database >&2; exit 3"]\n'
        f'post = ["echo $CAIRN_BACKUP_STATUS [$CAIRN_RECOVERY_POINT] > {log}"]',
    )
    repo = machine.repo()
    with pytest.raises(HookFailed) as failed:
        back_up(machine.home, repo, BackupRequest(trigger="scheduled"), Reporter(), policy=p)
    message = str(failed.value)
    assert "exited 3" in message and "cannot reach the database" in message
    assert "no recovery point" in message
    assert repo.list_points() == []
    assert not log.exists()  # the backup never started: nothing to clean up after
    machine.check_clean()


def test_an_optional_or_timed_out_hook_warns_and_the_backup_goes_on(machine: Machine) -> None:
    src = source(machine)
    p = policy(
        src,
        'pre = [{ run = "sleep 30 & wait", required = false, timeout = 1 }]\npost = ["exit 9"]',
    )
    reporter = Reporter()
    started = time.monotonic()
    result = back_up(machine.home, machine.repo(), BackupRequest(), reporter, policy=p)
    assert time.monotonic() - started < 20
    pre, post = result.hooks
    assert pre["exit_code"] is None and "timed out after 1 s" in pre["problem"]
    assert post["problem"] == "exited 9"
    messages = [w.message for w in reporter.warnings]
    assert "optional: the backup went on" in messages[0]
    assert f"the recovery point {result.point.id[:8]} is kept" in messages[1]
    assert result.warnings == 2
    machine.check_clean()


def test_hooks_do_not_run_for_explicit_paths(machine: Machine) -> None:
    src = source(machine)
    marker = machine.tmp / "ran"
    p = policy(src, f'pre = ["touch {marker}"]')
    result = back_up(machine.home, machine.repo(), BackupRequest(paths=[str(src)]), policy=p)
    assert result.hooks == [] and not marker.exists()
    machine.check_clean()


def test_a_cancel_kills_a_running_pre_hook_at_once(machine: Machine) -> None:
    """A stopping agent cancels its job: a pre hook with an hour's timeout must not hold it (it
    waited the whole timeout before)."""
    src = source(machine)
    marker = machine.tmp / "still-running"
    p = policy(src, f'pre = [{{ run = "sleep 5; touch {marker}", timeout = 3600 }}]')
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    repo = machine.repo()
    started = time.monotonic()
    with pytest.raises(Interrupted, match="pre-backup hook"):
        back_up(machine.home, repo, BackupRequest(), Reporter(cancel=cancel), policy=p)
    assert time.monotonic() - started < 3
    time.sleep(5)
    assert not marker.exists()  # its whole process group was killed, the sleep's child too
    assert repo.list_points() == []
    machine.check_clean()
