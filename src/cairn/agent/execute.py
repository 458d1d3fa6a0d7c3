"""What each kind of job does: the engine calls, with the machine's stored key (unattended).

    backup   `engine.ondemand.back_up`, the path the CLI's own process takes too: the policy's
             items (or the job's paths); scheduled and late backups fill their slot; an on-demand
             one may substitute for a failed slot (DESIGN.md, policy/substitution)
    restore  a recovery point's paths, to their place or under a target, with a conflict rule;
             with a `source` (a vault credentials file, a machine, the reference of its
             passphrase in `JobSecrets`), another machine's point, as `restore --machine` does
    prune    the recovery points the policy lets expire, then the data no point needs
    check    the structure, and the packs of `subset` N/M when given

After the job, a summary is sealed into the machine's part of the vault (`jobs/<id>`), so another
machine, and later the console, can show it.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from cairn.agent.jobsecrets import JobSecrets
from cairn.agent.jobstore import Job, JobStore
from cairn.agent.runner import Outcome
from cairn.core.clock import Clock
from cairn.core.errors import (
    EXIT_DAMAGE,
    EXIT_WARNINGS,
    BlobNotFound,
    CairnError,
    Interrupted,
    UsageError,
)
from cairn.core.events import Reporter
from cairn.engine import settings
from cairn.engine.check import check
from cairn.engine.expiry import deletion_reasons
from cairn.engine.home import Home
from cairn.engine.ondemand import BackupRequest, back_up, missing_items_message
from cairn.engine.other_machine import open_machine
from cairn.engine.protection import forget_purged, prune_targets
from cairn.engine.prune import DEFAULT_GRACE, prune
from cairn.engine.restore import RestoreOptions, restore
from cairn.engine.session import open_repository
from cairn.vault.repository import Repository

log = logging.getLogger("cairn.agent")


class EngineExecutor:
    def __init__(
        self,
        home: Home,
        clock: Clock,
        store: JobStore,
        workers: int = 2,
        secrets: JobSecrets | None = None,
    ) -> None:
        self.home = home
        self.clock = clock
        self.store = store
        self.workers = workers
        self.secrets = secrets if secrets is not None else JobSecrets()

    def __call__(self, job: Job, reporter: Reporter) -> Outcome:
        repo = open_repository(self.home, self.clock)
        reporter.stop_if_cancelled()
        run = getattr(self, f"_{job.kind}")
        source = job.params.get("source") if job.kind == "restore" else None
        try:
            work = self._other_machine(source) if source else repo
            outcome: Outcome = run(work, job, reporter)
        except CairnError as e:
            state = "cancelled" if isinstance(e, Interrupted) else "failed"
            self._save_summary(repo, job, Outcome(state, str(e), e.exit_code))
            raise
        self._save_summary(repo, job, outcome)
        return outcome

    # --- the kinds ------------------------------------------------------------------------------

    def _backup(self, repo: Repository, job: Job, reporter: Reporter) -> Outcome:
        request = BackupRequest(
            paths=list(job.params.get("paths") or []),
            excludes=list(job.params.get("excludes") or []),
            trigger=job.trigger,
            slot=job.slot,
            retain_until=job.params.get("retain_until"),
            workers=self.workers,
        )
        result = back_up(self.home, repo, request, reporter)
        p = result.point
        summary = {
            "recovery_point": p.id,
            "status": p.status,
            "paths": p.paths,
            "substitutes": p.substitutes,
            "stats": asdict(p.stats),
            "duration_s": round(result.duration_s, 3),
            "hooks": result.hooks,
        }
        if result.offline is not None:  # staged: the job says the machine awaits its import
            summary["offline"] = result.offline
        if result.missing_items:
            summary["missing_items"] = list(result.missing_items)
            return Outcome(
                "failed",
                missing_items_message(result),
                exit_code=1,
                recovery_point=p.id,
                result=summary,
            )
        state = "completed-with-warnings" if result.warnings else "completed"
        return Outcome(
            state,
            exit_code=EXIT_WARNINGS if result.warnings else 0,
            recovery_point=p.id,
            result=summary,
        )

    def _other_machine(self, source: dict[str, Any]) -> Repository:
        """Another machine's store, for a restore of its point (its passphrase in memory only)."""
        passphrase = self.secrets.take(str(source.get("passphrase_ref")))
        if passphrase is None:
            raise UsageError(
                f"the passphrase of machine {source.get('machine')!r} is no longer in the agent's"
                " memory (the agent restarted since the restore was asked for): start it again"
            )
        return open_machine(
            Path(str(source["credentials_file"])), str(source["machine"]), passphrase, self.clock
        )

    def _restore(self, repo: Repository, job: Job, reporter: Reporter) -> Outcome:
        p = job.params
        point = repo.find_point(str(p.get("point") or "latest"))
        options = RestoreOptions(
            list(p.get("paths") or []),
            p.get("target"),
            str(p.get("conflict") or "copy"),
            workers=self.workers,
            # Another machine's point: no device nodes, set-id bits or capabilities (as the CLI).
            restore_special=not p.get("source"),
            permissions=bool(p.get("permissions", True)),
        )
        result = restore(repo, point, options, reporter)
        summary: dict[str, Any] = {"recovery_point": point.id, **asdict(result)}
        if result.damaged:
            return Outcome(
                "failed",
                f"{len(result.damaged)} file(s) or folder(s) could not be restored because their"
                " data (or a folder's listing) in the vault is damaged or missing (the rest was"
                f" restored): {', '.join(result.damaged[:10])}; run `cairn check --read-data`",
                EXIT_DAMAGE,
                point.id,
                summary,
            )
        warned = bool(reporter.warnings)
        return Outcome(
            "completed-with-warnings" if warned else "completed",
            exit_code=EXIT_WARNINGS if warned else 0,
            recovery_point=point.id,
            result=summary,
        )

    def _prune(self, repo: Repository, job: Job, reporter: Reporter) -> Outcome:
        policy = settings.load_policy(self.home)
        now = self.clock.now()
        points = repo.list_points()
        expired = prune_targets(repo, points, policy, now)
        reasons = deletion_reasons([p for p in points if p.status != "deleted"], policy, now)
        grace = job.params.get("grace_hours")
        result = prune(
            repo,
            expired,
            now=now,
            grace=timedelta(hours=float(grace)) if grace is not None else DEFAULT_GRACE,
            dry_run=bool(job.params.get("dry_run")),
            reporter=reporter,
        )
        summary = {**asdict(result), "expiring": reasons}
        if not result.dry_run:
            forget_purged(repo, result.points_deleted)
            summary["job_summaries_deleted"] = self._delete_forgotten(repo)
        return Outcome("completed", exit_code=0, result=summary)

    def _delete_forgotten(self, repo: Repository) -> int:
        """The vault's copies of the summaries of jobs the history no longer keeps."""
        done = []
        for job_id in self.store.forgotten():
            try:
                repo.store.delete(repo.layout.job(job_id))
            except BlobNotFound:
                pass
            done.append(job_id)
        self.store.drop_forgotten(done)
        return len(done)

    def _check(self, repo: Repository, job: Job, reporter: Reporter) -> Outcome:
        subset = job.params.get("subset")
        chosen = (int(subset[0]), int(subset[1])) if subset else None
        result = check(
            repo,
            read_data=bool(job.params.get("read_data")),
            subset=chosen,
            reporter=reporter,
            workers=self.workers,
        )
        summary = asdict(result)
        if not result.ok:
            return Outcome(
                "failed",
                f"check found {len(result.errors)} problem(s): {result.errors[0]}",
                EXIT_DAMAGE,
                result=summary,
            )
        return Outcome("completed", exit_code=0, result=summary)

    # --- the vault's copy -----------------------------------------------------------------------

    def _save_summary(self, repo: Repository, job: Job, outcome: Outcome) -> None:
        """The job's summary, sealed into the vault; a failure here does not fail the job."""
        summary = {
            "id": job.id,
            "kind": job.kind,
            "trigger": job.trigger,
            "state": outcome.state,
            "created": job.created.isoformat(),
            "started": job.started.isoformat() if job.started else None,
            "finished": self.clock.now().isoformat(),
            "slot": job.slot,
            "error": outcome.error,
            "recovery_point": outcome.recovery_point,
            "result": outcome.result,
        }
        try:
            repo.save_job(job.id, summary)
        except CairnError as e:
            log.warning("could not write the summary of job %s into the vault: %s", job.id[:8], e)
