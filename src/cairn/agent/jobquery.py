"""The job history filtered by kind, state and time, newest first: one page at a time
(`find_jobs`, the console's Jobs page) or every match a page at a time (`iter_jobs`: `cairn jobs`,
`GET /v1/jobs`, the CSV exports), never the whole history at once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cairn.agent.jobstore import (
    KINDS,
    STATES,
    Job,
    JobStore,
    job_from_row,
    quoted_short,
    stamp,
)
from cairn.core.errors import UsageError

MAX_PAGE = 500


@dataclass(frozen=True)
class JobFilter:
    kind: str | None = None
    state: str | None = None
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before

    def check(self) -> None:
        if self.kind is not None and self.kind not in KINDS:
            raise UsageError(
                f"{quoted_short(self.kind)} is not a job kind; allowed: {', '.join(KINDS)}"
            )
        if self.state is not None and self.state not in STATES:
            raise UsageError(
                f"{quoted_short(self.state)} is not a job state; allowed: {', '.join(STATES)}"
            )
        if self.since and self.until and self.until <= self.since:
            raise UsageError("the end of the time range must come after its start")

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []
        if self.kind is not None:
            clauses.append("kind = ?")
            args.append(self.kind)
        if self.state is not None:
            clauses.append("state = ?")
            args.append(self.state)
        if self.since is not None:
            clauses.append("created >= ?")
            args.append(stamp(self.since))
        if self.until is not None:
            clauses.append("created < ?")
            args.append(stamp(self.until))
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), args


@dataclass(frozen=True)
class JobPage:
    jobs: list[Job]
    total: int  # jobs matching the filter
    offset: int
    limit: int

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.jobs) < self.total


def find_jobs(store: JobStore, f: JobFilter, offset: int = 0, limit: int = 50) -> JobPage:
    """Jobs matching `f`, newest first, `limit` of them from `offset`."""
    f.check()
    if offset < 0:
        raise UsageError(f"offset {offset}: give 0 or more")
    if not 1 <= limit <= MAX_PAGE:
        raise UsageError(f"a page holds 1 to {MAX_PAGE} jobs, not {limit}")
    where, args = f.where()
    total = int(store.read(f"SELECT COUNT(*) AS n FROM jobs{where}", args)[0]["n"])
    rows = store.read(
        f"SELECT * FROM jobs{where} ORDER BY created DESC, id LIMIT ? OFFSET ?",
        [*args, limit, offset],
    )
    return JobPage([job_from_row(r) for r in rows], total, offset, limit)


def iter_jobs(store: JobStore, f: JobFilter, last: int | None = None) -> Iterator[Job]:
    """Every job matching `f` (at most `last`), newest first, read a page at a time."""
    if last is not None and last < 1:
        raise UsageError(f"--last {last}: give a number of jobs of at least 1")
    offset = 0
    while last is None or offset < last:
        limit = MAX_PAGE if last is None else min(MAX_PAGE, last - offset)
        batch = find_jobs(store, f, offset, limit)
        yield from batch.jobs
        if not batch.has_next:
            return
        offset += len(batch.jobs)


def last_of_each_kind(store: JobStore) -> dict[str, Job]:
    """The newest job of each kind (the dashboard's summary)."""
    out: dict[str, Job] = {}
    for kind in KINDS:
        rows = store.read(
            "SELECT * FROM jobs WHERE kind = ? ORDER BY created DESC, id LIMIT 1", [kind]
        )
        if rows:
            out[kind] = job_from_row(rows[0])
    return out
