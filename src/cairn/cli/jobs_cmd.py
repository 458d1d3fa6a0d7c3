"""`cairn jobs`: the job history, from the running agent or, with none, from CAIRN_HOME itself."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from cairn.agent.jobcsv import csv_lines, duration_s
from cairn.agent.jobquery import JobFilter, iter_jobs
from cairn.agent.jobstore import KINDS, STATES, Job, JobStore
from cairn.cli import context, follow, render
from cairn.core.errors import CairnError, UsageError
from cairn.core.units import format_bytes, format_duration


def _history(status: str | None, last: int | None, kind: str | None = None) -> list[Job]:
    home = context.home()
    client = follow.agent(home)
    if client is not None:
        return client.jobs(status, last, kind)
    store = JobStore.in_home(home.path)
    try:
        return list(iter_jobs(store, JobFilter(kind=kind, state=status), last))
    finally:
        store.close()


def _one(spec: str) -> Job:
    home = context.home()
    client = follow.agent(home)
    if client is not None:
        return client.job(spec)
    store = JobStore.in_home(home.path)
    try:
        return store.find(spec)
    finally:
        store.close()


_duration = duration_s


def _local(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _counted(progress: dict[str, Any]) -> str:
    """What a job's progress counts: files, or packs while a check reads data."""
    return render.COUNTED.get(str(progress.get("phase")), "files")


def _what(job: Job) -> str:
    if job.error:
        return job.error.splitlines()[0]
    if job.recovery_point:
        return f"recovery point {job.recovery_point[:8]}"
    p = job.progress or {}
    if job.state == "running" and p:
        return (
            f"{p.get('files_done', 0)} {_counted(p)}, {format_bytes(int(p.get('bytes_done') or 0))}"
        )
    return ""


status_option = click.option("--status", type=click.Choice(STATES), help="Only jobs in this state.")
last_option = click.option("--last", type=click.IntRange(1), help="Only the newest N jobs.")
kind_option = click.option("--kind", type=click.Choice(KINDS), help="Only jobs of this kind.")


@click.group(invoke_without_command=True)
@status_option
@kind_option
@last_option
@click.option("--json", "json_output", is_flag=True, help="Print the jobs as JSON.")
@click.pass_context
def jobs(
    ctx: click.Context, status: str | None, kind: str | None, last: int | None, json_output: bool
) -> None:
    """List jobs, newest first (backup, restore, prune, check)."""
    if ctx.invoked_subcommand is not None:
        return
    found = _history(status, last, kind)
    if json_output:
        render.emit_json([j.to_json() for j in found])
        return
    if not found:
        click.echo("no jobs")
        return
    click.echo(
        f"{'ID':8}  {'KIND':7}  {'TRIGGER':9}  {'STATE':23}  {'CREATED':19}  {'TOOK':>7}  RESULT"
    )
    for j in found:
        took = _duration(j)
        click.echo(
            f"{j.id[:8]}  {j.kind:7}  {j.trigger:9}  {j.state:23}  {_local(j.created):19}"
            f"  {format_duration(took) if took is not None else '-':>7}  {_what(j)}"
        )


@jobs.command("show")
@click.argument("job_id")
@click.option("--json", "json_output", is_flag=True, help="Print the job as JSON.")
def show(job_id: str, json_output: bool) -> None:
    """Show one job: its state, progress, warnings, error and result."""
    job = _one(job_id)
    if json_output:
        render.emit_json(job.to_json())
        return
    took = _duration(job)
    lines = [
        f"job {job.id}",
        f"  kind:      {job.kind} ({job.trigger})",
        f"  state:     {job.state}",
        f"  created:   {_local(job.created)}",
        f"  started:   {_local(job.started)}",
        f"  finished:  {_local(job.finished)}",
    ]
    if took is not None:
        lines.append(f"  took:      {format_duration(took)}")
    if job.slot:
        lines.append(f"  slot:      {job.slot}")
    if job.params:
        shown = {k: v for k, v in job.params.items() if v not in (None, [], "")}
        if shown:
            lines.append(f"  params:    {shown}")
    p = job.progress
    if p:
        total = p.get("bytes_total")
        lines.append(
            f"  progress:  {p.get('files_done', 0)} {_counted(p)},"
            f" {format_bytes(int(p.get('bytes_done') or 0))}"
            + (f" of {format_bytes(int(total))}" if total else "")
            + f", stored {format_bytes(int(p.get('bytes_stored') or 0))}"
            + f", {render.rate_text(int(p.get('rate_bps') or 0))}"
            + (
                f", {format_duration(float(p['eta_s']))} left"
                if p.get("eta_s") and not job.done
                else ""
            )
        )
    if job.recovery_point:
        lines.append(f"  recovery point: {job.recovery_point}")
    if job.error:
        lines.append(f"  error:     {job.error}")
    if job.warnings_total:
        lines.append(f"  warnings:  {job.warnings_total}")
        lines.extend(f"    {w.get('path', '')}: {w.get('message', '')}" for w in job.warnings)
        if job.warnings_total > len(job.warnings):
            lines.append(f"    ... and {job.warnings_total - len(job.warnings)} more")
    click.echo("\n".join(lines))


@jobs.command("cancel")
@click.argument("job_id")
def cancel(job_id: str) -> None:
    """Cancel a queued or running job (a running one stops at its next safe point)."""
    client = follow.agent(context.home())
    if client is None:
        job = _one(job_id)
        raise UsageError(f"no agent is running, so job {job.id[:8]} ({job.state}) is not running")
    job = client.cancel(job_id)
    if job.done:
        click.echo(f"job {job.id[:8]} {job.state}")
    else:
        click.echo(f"job {job.id[:8]} asked to stop; it stops at its next safe point")


@jobs.command("export")
@click.option(
    "--csv",
    "csv_file",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Write the jobs to this CSV file.",
)
@status_option
@kind_option
@last_option
def export(csv_file: Path, status: str | None, kind: str | None, last: int | None) -> None:
    """Export the job history as CSV."""
    found = _history(status, last, kind)
    try:
        with csv_file.open("w", newline="", encoding="utf-8") as out:
            out.writelines(csv_lines(found))
    except OSError as e:
        raise CairnError(f"cannot write {csv_file}: {e.strerror}") from None
    click.echo(f"wrote {len(found)} job(s) to {csv_file}")
