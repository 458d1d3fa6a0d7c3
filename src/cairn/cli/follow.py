"""Jobs in a running agent, seen from the CLI: find the agent, follow a job's progress, and decide
what Ctrl-C means (MARS's wizard: the job may go on in the background)."""

from __future__ import annotations

import sys
import time

import click

from cairn.agent.client import AgentClient
from cairn.agent.jobstore import Job
from cairn.cli import render
from cairn.core import events
from cairn.core.errors import EXIT_INTERRUPTED, EXIT_WARNINGS
from cairn.engine.home import Home

POLL_S = 0.3


def agent(home: Home) -> AgentClient | None:
    return AgentClient.find(home.path)


def _progress(job: Job) -> events.Progress | None:
    p = job.progress
    if not p:
        return None
    return events.Progress(
        phase=str(p.get("phase") or job.kind),
        files_done=int(p.get("files_done") or 0),
        bytes_done=int(p.get("bytes_done") or 0),
        files_total=p.get("files_total"),
        bytes_total=p.get("bytes_total"),
        bytes_stored=int(p.get("bytes_stored") or 0),
        current=str(p.get("current") or ""),
        limit_bps=p.get("limit_bps"),  # the throttle's limit, once the agent's record carries it
    )


def follow(client: AgentClient, job: Job, show_progress: bool) -> Job | None:
    """Show the job's progress and warnings until it ends; None if the user let it go on in the
    background (Ctrl-C, then yes)."""
    shown = 0
    with render.reporter(show_progress) as reporter:
        while True:
            try:
                job = client.job(job.id)
                for w in job.warnings[shown:]:
                    reporter.warn(w.get("path", ""), w.get("message", ""))
                shown = len(job.warnings)
                progress = _progress(job)
                if progress is not None:
                    reporter.progress(progress)
                if job.done:
                    return job
                time.sleep(POLL_S)
            except KeyboardInterrupt:
                if sys.stdin.isatty() and click.confirm(
                    "\nContinue the job in the background?", default=True, err=True
                ):
                    click.echo(
                        f"job {job.id[:8]} goes on in the agent: `cairn jobs show {job.id[:8]}`",
                        err=True,
                    )
                    return None
                client.cancel(job.id)
                click.echo(f"cancelling job {job.id[:8]}...", err=True)


def exit_code(job: Job) -> int:
    """The exit code of a finished job, as the command run in-process would have exited."""
    if job.state == "completed":
        return 0
    if job.state == "completed-with-warnings":
        return EXIT_WARNINGS
    if job.state == "cancelled":
        return EXIT_INTERRUPTED
    return job.exit_code or 1
