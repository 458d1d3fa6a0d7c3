"""`--grace-hours` takes a finite number of hours in its range; a bad value stored in the job
history by an older Cairn does not break the listing."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.responses import JSONResponse

from cairn.agent.jobstore import JobStore
from tests.cli.conftest import Cli


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "1e400", "100000"])
def test_a_grace_outside_the_range_is_refused_naming_the_flag(registered: Cli, value: str) -> None:
    proc = registered.run("prune", "--grace-hours", value, expect=2)
    assert "--grace-hours" in proc.stderr and "0" in proc.stderr and "87600" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_grace_in_the_range_is_taken(registered: Cli) -> None:
    registered.run("prune", "--grace-hours", "0.5", "--dry-run")
    registered.run("check")


def test_a_job_stored_with_a_nan_parameter_still_lists(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite")
    job = store.create("prune", "on-demand", datetime(2026, 1, 1, tzinfo=UTC), {"dry_run": False})
    with sqlite3.connect(tmp_path / "jobs.sqlite") as db:  # as an older Cairn stored it
        db.execute("UPDATE jobs SET params = ? WHERE id = ?", ('{"grace_hours": NaN}', job.id))
    (listed,) = store.jobs()
    JSONResponse([listed.to_json()])  # the agent API's strict JSON: raised ValueError before
    assert json.loads(json.dumps(listed.to_json(), allow_nan=False))["params"] == {
        "grace_hours": "NaN"
    }
