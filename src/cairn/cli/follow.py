"""Jobs in a running agent, seen from the CLI: find the agent, follow a job's progress, and decide
what Ctrl-C means (MARS's wizard: the job may go on in the background)."""

from __future__ import annotations

import dataclasses
import sys
import time
from typing import Any, TypeVar

import click

from cairn.agent.client import AgentClient, AgentError
from cairn.agent.jobstore import Job
from cairn.cli import context, render
from cairn.core import events
from cairn.core.errors import EXIT_INTERRUPTED, EXIT_WARNINGS
from cairn.engine.home import Home
from cairn.engine.session import open_repository

POLL_S = 0.3
R = TypeVar("R")


def result_as(cls: type[R], job: Job) -> R:
    """A finished job's result as the engine's result class (fields it does not know dropped)."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in (job.result or {}).items() if k in names})


def agent(home: Home, passphrase: str | None = None) -> AgentClient | None:
    """The running agent, if any. A passphrase the user gave is checked first, as in-process
    (exit 12 if wrong): the agent works with the stored key, but a wrong passphrase is never
    silently ignored."""
    client = AgentClient.find(home.path)
    if client is not None and passphrase is not None:
        open_repository(home, context.clock(), passphrase=passphrase)
    return client


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
        limit_bps=p.get("limit_bps"),  # the throttle's limit in force
    )


def follow(client: AgentClient, job: Job, show_progress: bool) -> Job | None:
    """Show the job's progress and warnings until it ends; None if the user let it go on in the
    background (Ctrl-C, then yes). Ctrl-C, then no, cancels it and shows it to its end."""
    shown = [0]
    while True:
        try:
            return _show(client, job, show_progress, shown)
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


def _show(client: AgentClient, job: Job, show_progress: bool, shown: list[int]) -> Job:
    with render.reporter(show_progress) as reporter:
        while True:
            job = client.job(job.id)
            for w in job.warnings[shown[0] :]:
                reporter.warn(w.get("path", ""), w.get("message", ""))
            shown[0] = len(job.warnings)
            progress = _progress(job)
            if progress is not None:
                reporter.progress(progress)
            if job.done:
                return job
            time.sleep(POLL_S)


def exit_code(job: Job) -> int:
    """The exit code of a finished job, as the command run in-process would have exited."""
    if job.state == "completed":
        return 0
    if job.state == "completed-with-warnings":
        return EXIT_WARNINGS
    if job.state == "cancelled":
        return EXIT_INTERRUPTED
    return job.exit_code or 1


def run(
    home: Home,
    kind: str,
    params: dict[str, Any],
    json_output: bool,
    passphrase: str | None = None,
) -> Job | None:
    """Run the job in the agent if one runs: its finished job, or None when no agent runs.

    A job that failed without a result, or was cancelled, raises its error here with its exit
    code; one the user let go on in the background exits 0.
    """
    client = agent(home, passphrase)
    if client is None:
        return None
    job = client.submit(kind, params)
    if not json_output:
        click.echo(f"{kind} job {job.id[:8]} runs in the agent", err=True)
    done = follow(client, job, not json_output and sys.stderr.isatty())
    if done is None:
        raise SystemExit(0)
    if done.state == "cancelled" or (done.state == "failed" and not done.result):
        raise AgentError(f"{kind} job {done.id[:8]} {done.state}: {done.error}", exit_code(done))
    return done
