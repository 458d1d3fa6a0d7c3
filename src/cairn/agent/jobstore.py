"""Job history: SQLite in CAIRN_HOME (WAL mode), shared by the agent and the CLI.

    CAIRN_HOME/jobs.sqlite
      jobs   one row per job: kind, trigger, state, times, parameters, progress, warnings, the
             error of a failed job, the recovery point a backup made
      slots  what became of each scheduled slot (succeeded / failed / missed; queued while open)
      meta   the scheduler's own notes (where it starts counting slots, the check rotation)

Times are stored as UTC text of one fixed width, so they sort as text. Every method is one short
transaction under a lock, so the agent's threads and a CLI process can share the file.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from cairn.core.errors import CairnError, NoSpace, UsageError
from cairn.core.ids import random_id
from cairn.engine.slots import JOBS_DB

DB_FILE = JOBS_DB  # engine.slots reads its `slots` table
KINDS: Final = ("backup", "restore", "prune", "check")
RECORDED_KINDS: Final = (*KINDS, "import")
"""What the history holds: the agent's kinds, and imports (`cairn offline import` records its run
here itself: an import is not a job the agent runs)."""
TRIGGERS: Final = ("scheduled", "on-demand", "late")
STATES: Final = (
    "queued",
    "running",
    "completed",
    "completed-with-warnings",
    "failed",
    "cancelled",
)
FINISHED: Final = ("completed", "completed-with-warnings", "failed", "cancelled")
MAX_WARNINGS = 1000  # kept per job; `warnings_total` counts them all

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    trigger TEXT NOT NULL,
    state TEXT NOT NULL,
    created TEXT NOT NULL,
    started TEXT,
    finished TEXT,
    params TEXT NOT NULL,
    slot TEXT,
    progress TEXT,
    warnings TEXT NOT NULL DEFAULT '[]',
    warnings_total INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    exit_code INTEGER,
    recovery_point TEXT,
    result TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_created ON jobs (created);
CREATE TABLE IF NOT EXISTS slots (
    slot TEXT PRIMARY KEY,
    instant TEXT NOT NULL,
    outcome TEXT NOT NULL,
    job_id TEXT
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS forgotten (id TEXT PRIMARY KEY);
"""


def quoted_short(text: str, most: int = 40) -> str:
    """`text` quoted for a message, shortened if long: a 100 KB argument is not echoed back."""
    return repr(text if len(text) <= most else text[:most] + "…")


class JobNotFound(UsageError):
    """No job has that id (or prefix)."""


def stamp(moment: datetime) -> str:
    """A time as stored: UTC, fixed width, so text order is time order."""
    if moment.tzinfo is None:
        raise ValueError(f"a stored time must be timezone-aware, not {moment}")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def unstamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@dataclass
class Job:
    id: str
    kind: str
    trigger: str
    state: str
    created: datetime
    params: dict[str, Any] = field(default_factory=dict)
    started: datetime | None = None
    finished: datetime | None = None
    slot: str | None = None
    progress: dict[str, Any] | None = None
    warnings: list[dict[str, str]] = field(default_factory=list)
    warnings_total: int = 0
    error: str | None = None
    exit_code: int | None = None
    recovery_point: str | None = None
    result: dict[str, Any] | None = None

    @property
    def done(self) -> bool:
        return self.state in FINISHED

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "trigger": self.trigger,
            "state": self.state,
            "created": self.created.isoformat(),
            "started": self.started.isoformat() if self.started else None,
            "finished": self.finished.isoformat() if self.finished else None,
            "params": self.params,
            "slot": self.slot,
            "progress": self.progress,
            "warnings": self.warnings,
            "warnings_total": self.warnings_total,
            "error": self.error,
            "exit_code": self.exit_code,
            "recovery_point": self.recovery_point,
            "result": self.result,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Job:
        def when(key: str) -> datetime | None:
            value = doc.get(key)
            return datetime.fromisoformat(value) if value else None

        created = when("created")
        if created is None:
            raise ValueError("a job needs its creation time")
        return cls(
            id=doc["id"],
            kind=doc["kind"],
            trigger=doc["trigger"],
            state=doc["state"],
            created=created,
            params=doc.get("params") or {},
            started=when("started"),
            finished=when("finished"),
            slot=doc.get("slot"),
            progress=doc.get("progress"),
            warnings=doc.get("warnings") or [],
            warnings_total=int(doc.get("warnings_total") or 0),
            error=doc.get("error"),
            exit_code=doc.get("exit_code"),
            recovery_point=doc.get("recovery_point"),
            result=doc.get("result"),
        )


def job_from_row(row: sqlite3.Row) -> Job:
    def when(key: str) -> datetime | None:
        return unstamp(row[key]) if row[key] else None

    return Job(
        id=row["id"],
        kind=row["kind"],
        trigger=row["trigger"],
        state=row["state"],
        created=unstamp(row["created"]),
        params=json.loads(row["params"], parse_constant=str),  # NaN kept by an older Cairn
        started=when("started"),
        finished=when("finished"),
        slot=row["slot"],
        progress=json.loads(row["progress"]) if row["progress"] else None,
        warnings=json.loads(row["warnings"]),
        warnings_total=row["warnings_total"],
        error=row["error"],
        exit_code=row["exit_code"],
        recovery_point=row["recovery_point"],
        result=json.loads(row["result"]) if row["result"] else None,
    )


@dataclass(frozen=True, slots=True)
class SlotRecord:
    slot: str
    instant: datetime
    outcome: str
    job_id: str | None


class JobStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            self._db = sqlite3.connect(
                path, timeout=30, isolation_level=None, check_same_thread=False
            )
            path.chmod(0o600)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise CairnError(
                f"the job history {path} cannot be opened ({e}): move it away and start again"
            ) from None
        self._lock = threading.Lock()

    @classmethod
    def in_home(cls, home: Path) -> JobStore:
        return cls(home / DB_FILE)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError as e:
                if "full" in str(e):
                    raise NoSpace(
                        f"CAIRN_HOME ({self.path.parent}) is full: the job history cannot be"
                        " written; free space there"
                    ) from None
                raise CairnError(f"the job history {self.path} cannot be written: {e}") from None

    # --- jobs -----------------------------------------------------------------------------------

    def create(
        self,
        kind: str,
        trigger: str,
        now: datetime,
        params: dict[str, Any] | None = None,
        slot: str | None = None,
        state: str = "queued",
    ) -> Job:
        if kind not in RECORDED_KINDS:
            raise UsageError(f"{kind!r} is not a job kind; allowed: {', '.join(RECORDED_KINDS)}")
        if trigger not in TRIGGERS:
            raise UsageError(f"{trigger!r} is not a trigger; allowed: {', '.join(TRIGGERS)}")
        job = Job(random_id(), kind, trigger, state, now, dict(params or {}), slot=slot)
        if state == "running":
            job.started = now
        with self._tx() as db:
            db.execute(
                "INSERT INTO jobs (id, kind, trigger, state, created, started, params, slot)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job.id,
                    kind,
                    trigger,
                    state,
                    stamp(now),
                    stamp(now) if job.started else None,
                    json.dumps(job.params),
                    slot,
                ),
            )
        return job

    def get(self, job_id: str) -> Job:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(f"no job {job_id!r}: see `cairn jobs`")
        return job_from_row(row)

    def find(self, spec: str) -> Job:
        """A job by its id or a unique prefix of it."""
        spec = spec.strip().lower()
        if not spec or len(spec) > 64 or any(c not in "0123456789abcdef" for c in spec):
            raise UsageError(f"{quoted_short(spec)} is not a job id: see `cairn jobs`")
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM jobs WHERE id >= ? AND id < ? LIMIT 2", (spec, spec + "g")
            ).fetchall()
        if not rows:
            raise JobNotFound(f"no job {quoted_short(spec)}: see `cairn jobs`")
        if len(rows) > 1:
            raise UsageError(f"{quoted_short(spec)} names more than one job: give more characters")
        return job_from_row(rows[0])

    def jobs(self, status: str | None = None, last: int | None = None) -> list[Job]:
        """Jobs, newest first; `status` filters by state, `last` keeps the newest N."""
        if status is not None and status not in STATES:
            raise UsageError(
                f"{quoted_short(status)} is not a job state; allowed: {', '.join(STATES)}"
            )
        if last is not None and last < 1:
            raise UsageError(f"--last {last}: give a number of jobs of at least 1")
        query = "SELECT * FROM jobs"
        args: list[Any] = []
        if status is not None:
            query += " WHERE state = ?"
            args.append(status)
        query += " ORDER BY created DESC, id"
        if last is not None:
            query += " LIMIT ?"
            args.append(min(last, 2**62))  # more than there can be: all (SQLite takes 64 bits)
        with self._lock:
            rows = self._db.execute(query, args).fetchall()
        return [job_from_row(r) for r in rows]

    def read(self, sql: str, args: list[Any]) -> list[sqlite3.Row]:
        """Rows of a read-only query (agent/jobquery.py builds them); `job_from_row` makes jobs."""
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def next_queued(self) -> Job | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM jobs WHERE state = 'queued' ORDER BY created, id LIMIT 1"
            ).fetchone()
        return job_from_row(row) if row is not None else None

    def running(self) -> list[Job]:
        return self.jobs(status="running")

    def start(self, job_id: str, now: datetime) -> bool:
        """Queued -> running; False if the job is no longer queued (cancelled meanwhile)."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE jobs SET state = 'running', started = ? WHERE id = ? AND state = 'queued'",
                (stamp(now), job_id),
            )
        return cur.rowcount == 1

    def set_progress(self, job_id: str, progress: dict[str, Any]) -> None:
        with self._tx() as db:
            db.execute("UPDATE jobs SET progress = ? WHERE id = ?", (json.dumps(progress), job_id))

    def add_warnings(self, job_id: str, warnings: list[dict[str, str]]) -> None:
        if not warnings:
            return
        with self._tx() as db:
            row = db.execute(
                "SELECT warnings, warnings_total FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
            if row is None:
                return
            kept = json.loads(row["warnings"])
            kept.extend(warnings[: max(0, MAX_WARNINGS - len(kept))])
            db.execute(
                "UPDATE jobs SET warnings = ?, warnings_total = ? WHERE id = ?",
                (json.dumps(kept), row["warnings_total"] + len(warnings), job_id),
            )

    def finish(
        self,
        job_id: str,
        state: str,
        now: datetime,
        *,
        error: str | None = None,
        exit_code: int | None = None,
        recovery_point: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> Job:
        if state not in FINISHED:
            raise ValueError(f"{state!r} is not a final state")
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET state = ?, finished = ?, error = ?, exit_code = ?,"
                " recovery_point = ?, result = ? WHERE id = ?",
                (
                    state,
                    stamp(now),
                    error,
                    exit_code,
                    recovery_point,
                    json.dumps(result) if result is not None else None,
                    job_id,
                ),
            )
            db.execute(
                "UPDATE slots SET outcome = ? WHERE job_id = ? AND outcome = 'queued'",
                ("succeeded" if state.startswith("completed") else "failed", job_id),
            )
        return self.get(job_id)

    def cancel_queued(self, job_id: str, now: datetime) -> bool:
        """Cancel a job that has not started; False if it is no longer queued."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE jobs SET state = 'cancelled', finished = ?, exit_code = 130,"
                " error = 'cancelled before it started' WHERE id = ? AND state = 'queued'",
                (stamp(now), job_id),
            )
            if cur.rowcount == 1:
                db.execute(
                    "UPDATE slots SET outcome = 'failed' WHERE job_id = ? AND outcome = 'queued'",
                    (job_id,),
                )
        return cur.rowcount == 1

    def fail_orphans(self, now: datetime) -> list[str]:
        """Jobs a stopped agent left queued or running are failed (at the agent's start)."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT id, state FROM jobs WHERE state IN ('queued', 'running')"
            ).fetchall()
            for row in rows:
                why = (
                    "the agent stopped while this job was running"
                    if row["state"] == "running"
                    else "the agent stopped before this job started"
                )
                db.execute(
                    "UPDATE jobs SET state = 'failed', finished = ?, error = ?, exit_code = 1"
                    " WHERE id = ?",
                    (stamp(now), why, row["id"]),
                )
                db.execute(
                    "UPDATE slots SET outcome = 'failed' WHERE job_id = ? AND outcome = 'queued'",
                    (row["id"],),
                )
        return [row["id"] for row in rows]

    def purge(self, before: datetime) -> int:
        """Forget finished jobs older than `before` (the history keeps 90 days by default). Their
        summaries in the vault are listed in `forgotten`, for the next prune to delete."""
        with self._tx() as db:
            old = "FROM jobs WHERE finished IS NOT NULL AND finished < ?"
            db.execute(f"INSERT OR IGNORE INTO forgotten (id) SELECT id {old}", (stamp(before),))
            cur = db.execute(f"DELETE {old}", (stamp(before),))
            db.execute("DELETE FROM slots WHERE instant < ?", (stamp(before),))
        return cur.rowcount

    def forgotten(self) -> list[str]:
        """Jobs purged from the history whose summaries may still be in the vault."""
        with self._lock:
            return [r["id"] for r in self._db.execute("SELECT id FROM forgotten ORDER BY id")]

    def drop_forgotten(self, job_ids: list[str]) -> None:
        with self._tx() as db:
            db.executemany("DELETE FROM forgotten WHERE id = ?", [(i,) for i in job_ids])

    # --- slots and notes ------------------------------------------------------------------------

    def record_slot(
        self, slot: str, instant: datetime, outcome: str, job_id: str | None = None
    ) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO slots (slot, instant, outcome, job_id) VALUES (?, ?, ?, ?)",
                (slot, stamp(instant), outcome, job_id),
            )

    def slots_since(self, since: datetime) -> list[SlotRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM slots WHERE instant >= ? ORDER BY instant", (stamp(since),)
            ).fetchall()
        return [
            SlotRecord(r["slot"], unstamp(r["instant"]), r["outcome"], r["job_id"]) for r in rows
        ]

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row["value"])

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
