"""Pages of the job history: filters by kind, state and time; every match read a page at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cairn.agent import jobquery
from cairn.agent.jobquery import JobFilter, find_jobs, iter_jobs, last_of_each_kind
from cairn.agent.jobstore import JobStore
from cairn.core.errors import UsageError

T0 = datetime(2026, 5, 1, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> JobStore:
    s = JobStore.in_home(tmp_path)
    for i in range(30):
        kind = "backup" if i % 3 else "check"
        job = s.create(kind, "scheduled", T0 + timedelta(hours=i), state="running")
        s.finish(
            job.id, "failed" if i % 5 == 0 else "completed", T0 + timedelta(hours=i, minutes=1)
        )
    return s


def test_a_page_counts_every_match_and_holds_only_its_jobs(store: JobStore) -> None:
    page = find_jobs(store, JobFilter(kind="backup"), offset=5, limit=7)
    assert page.total == 20 and len(page.jobs) == 7 and page.has_next
    assert all(j.kind == "backup" for j in page.jobs)
    times = [j.created for j in page.jobs]
    assert times == sorted(times, reverse=True)
    last = find_jobs(store, JobFilter(kind="backup"), offset=14, limit=7)
    assert len(last.jobs) == 6 and not last.has_next


def test_filters_by_state_and_time(store: JobStore) -> None:
    f = JobFilter(state="failed", since=T0 + timedelta(hours=5), until=T0 + timedelta(hours=20))
    assert [j.created for j in find_jobs(store, f).jobs] == [
        T0 + timedelta(hours=15),
        T0 + timedelta(hours=10),
        T0 + timedelta(hours=5),
    ]


def test_iter_jobs_reads_every_match_a_page_at_a_time(
    store: JobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobquery, "MAX_PAGE", 4)
    assert len(list(iter_jobs(store, JobFilter()))) == 30
    assert len(list(iter_jobs(store, JobFilter(kind="check"), last=9))) == 9
    assert [j.id for j in iter_jobs(store, JobFilter())] == [j.id for j in store.jobs()]


def test_bad_filters_are_refused(store: JobStore) -> None:
    with pytest.raises(UsageError, match="not a job kind"):
        find_jobs(store, JobFilter(kind="bakup"))
    with pytest.raises(UsageError, match="must come after its start"):
        find_jobs(store, JobFilter(since=T0, until=T0))
    with pytest.raises(UsageError, match="1 to 500"):
        find_jobs(store, JobFilter(), limit=0)


def test_the_last_job_of_each_kind(store: JobStore) -> None:
    last = last_of_each_kind(store)
    assert set(last) == {"backup", "check"}
    assert last["backup"].created == T0 + timedelta(hours=29)
    assert last["check"].created == T0 + timedelta(hours=27)
