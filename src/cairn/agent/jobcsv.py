"""The job history as CSV: what `cairn jobs export --csv` writes and the console's Jobs page
downloads (one header row, then one row per job)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime
from io import StringIO
from typing import Any

from cairn.agent.jobstore import Job

CSV_FIELDS = (
    "id",
    "kind",
    "trigger",
    "state",
    "created",
    "started",
    "finished",
    "duration_s",
    "slot",
    "recovery_point",
    "files_done",
    "bytes_done",
    "bytes_stored",
    "warnings",
    "error",
)


def duration_s(job: Job) -> float | None:
    if job.started is None:
        return None
    end = job.finished or datetime.now(job.started.tzinfo)
    return (end - job.started).total_seconds()


def csv_row(j: Job) -> list[Any]:
    p = j.progress or {}
    took = duration_s(j)
    return [
        j.id,
        j.kind,
        j.trigger,
        j.state,
        j.created.isoformat(),
        j.started.isoformat() if j.started else "",
        j.finished.isoformat() if j.finished else "",
        f"{took:.3f}" if took is not None else "",
        j.slot or "",
        j.recovery_point or "",
        p.get("files_done", ""),
        p.get("bytes_done", ""),
        p.get("bytes_stored", ""),
        j.warnings_total,
        j.error or "",
    ]


def csv_lines(jobs: Iterable[Job]) -> Iterator[str]:
    """The CSV text, a line at a time (so a long history streams)."""
    buffer = StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_FIELDS)
    for j in jobs:
        writer.writerow(csv_row(j))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.getvalue():
        yield buffer.getvalue()
