"""The job history: SQLite in WAL mode, owner-only, filters, orphans, the 90-day purge."""

from __future__ import annotations

import os
import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cairn.agent.jobstore import MAX_WARNINGS, JobStore, stamp, unstamp
from cairn.core.errors import UsageError

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> JobStore:
    return JobStore(tmp_path / "home" / "jobs.sqlite")


def test_wal_mode_and_owner_only(store: JobStore) -> None:
    mode = sqlite3.connect(store.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(store.path.parent).st_mode) == 0o700


def test_stamps_sort_as_text_and_round_trip() -> None:
    times = [
        T0,
        T0 + timedelta(microseconds=1),
        T0 + timedelta(seconds=1),
        T0 + timedelta(days=400),
    ]
    assert sorted(stamp(t) for t in times) == [stamp(t) for t in times]
    assert [unstamp(stamp(t)) for t in times] == times
    with pytest.raises(ValueError):
        stamp(datetime(2026, 1, 1))


def test_life_of_a_job(store: JobStore) -> None:
    job = store.create("backup", "on-demand", T0, {"paths": ["/srv"]})
    assert job.state == "queued" and store.next_queued() == store.get(job.id)
    assert store.start(job.id, T0 + timedelta(seconds=1))
    assert not store.start(job.id, T0)  # only a queued job starts
    store.set_progress(job.id, {"files_done": 3})
    store.add_warnings(job.id, [{"path": "/srv/a", "message": "cannot read"}])
    done = store.finish(
        job.id,
        "completed-with-warnings",
        T0 + timedelta(seconds=9),
        exit_code=3,
        recovery_point="ab" * 32,
    )
    assert done.state == "completed-with-warnings" and done.done
    assert done.progress == {"files_done": 3}
    assert done.warnings == [{"path": "/srv/a", "message": "cannot read"}]
    assert done.started == T0 + timedelta(seconds=1) and done.finished == T0 + timedelta(seconds=9)
    assert store.next_queued() is None
    assert store.find(job.id[:6]).id == job.id


def test_filters_newest_first(store: JobStore) -> None:
    ids = []
    for i in range(5):
        j = store.create("backup" if i % 2 else "prune", "scheduled", T0 + timedelta(minutes=i))
        store.start(j.id, T0)
        store.finish(
            j.id, "failed" if i == 3 else "completed", T0 + timedelta(minutes=i, seconds=1)
        )
        ids.append(j.id)
    assert [j.id for j in store.jobs()] == ids[::-1]
    assert [j.id for j in store.jobs(last=2)] == [ids[4], ids[3]]
    assert [j.id for j in store.jobs(status="failed")] == [ids[3]]
    with pytest.raises(UsageError, match="not a job state"):
        store.jobs(status="done")
    with pytest.raises(UsageError, match="not a job kind"):
        store.create("defrag", "on-demand", T0)


def test_find_refuses_unknown_and_ambiguous(store: JobStore) -> None:
    a = store.create("backup", "on-demand", T0)
    with pytest.raises(UsageError, match="no job"):
        store.find("f" * 64 if not a.id.startswith("f") else "0" * 64)
    with pytest.raises(UsageError, match="not a job id"):
        store.find("zz")
    for _ in range(40):
        store.create("check", "on-demand", T0)
    prefixes = [j.id[:1] for j in store.jobs()]
    common = max(set(prefixes), key=prefixes.count)
    with pytest.raises(UsageError, match="more than one job"):
        store.find(common)


def test_orphans_of_a_killed_agent_are_failed(store: JobStore) -> None:
    running = store.create("backup", "scheduled", T0, slot="2026-11-01T13:00[UTC]")
    store.start(running.id, T0)
    store.record_slot("2026-11-01T13:00[UTC]", T0, "queued", running.id)
    waiting = store.create("prune", "scheduled", T0)
    finished = store.create("check", "on-demand", T0)
    store.start(finished.id, T0)
    store.finish(finished.id, "completed", T0)
    assert sorted(store.fail_orphans(T0 + timedelta(hours=1))) == sorted([running.id, waiting.id])
    assert store.get(running.id).error == "the agent stopped while this job was running"
    assert store.get(waiting.id).error == "the agent stopped before this job started"
    assert store.get(finished.id).state == "completed"
    assert [r.outcome for r in store.slots_since(T0)] == ["failed"]


def test_purge_keeps_ninety_days(store: JobStore) -> None:
    old = store.create("backup", "scheduled", T0)
    store.finish(old.id, "completed", T0)
    new = store.create("backup", "scheduled", T0 + timedelta(days=80))
    store.finish(new.id, "completed", T0 + timedelta(days=80))
    assert store.purge(T0 + timedelta(days=95) - timedelta(days=90)) == 1
    assert [j.id for j in store.jobs()] == [new.id]


def test_warnings_are_capped_but_counted(store: JobStore) -> None:
    job = store.create("backup", "on-demand", T0)
    batch = [{"path": f"/f{i}", "message": "cannot read"} for i in range(700)]
    store.add_warnings(job.id, batch)
    store.add_warnings(job.id, batch)
    got = store.get(job.id)
    assert len(got.warnings) == MAX_WARNINGS and got.warnings_total == 1400


def test_cancel_only_a_queued_job(store: JobStore) -> None:
    a = store.create("backup", "on-demand", T0)
    assert store.cancel_queued(a.id, T0)
    assert store.get(a.id).state == "cancelled"
    assert not store.cancel_queued(a.id, T0)
    b = store.create("backup", "on-demand", T0)
    store.start(b.id, T0)
    assert not store.cancel_queued(b.id, T0)
    assert store.get(b.id).state == "running"


def test_a_damaged_history_is_named(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(Exception, match="cannot be opened"):
        JobStore(path)
