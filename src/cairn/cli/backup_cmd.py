"""`cairn backup`: Back Up Now."""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from cairn.agent.client import AgentClient, AgentError
from cairn.cli import context, follow, render
from cairn.core.errors import EXIT_WARNINGS, UsageError
from cairn.core.units import format_bytes, format_duration
from cairn.engine import settings
from cairn.engine.ondemand import BackupRequest, back_up, parse_retain_until
from cairn.engine.session import open_repository


@click.command()
@click.argument("paths", nargs=-1)
@click.option(
    "--exclude",
    "excludes",
    multiple=True,
    metavar="PATTERN",
    help="Leave out what matches (gitignore-style; repeatable).",
)
@click.option(
    "--retain-until", metavar="DATE", help="Keep this recovery point through DATE (YYYY-MM-DD)."
)
@click.option(
    "--detach",
    is_flag=True,
    help="Queue the backup in the running agent and return at once (see `cairn jobs`).",
)
@click.option("--json", "json_output", is_flag=True, help="Print the result as JSON.")
@context.passphrase_option
def backup(
    paths: tuple[str, ...],
    excludes: tuple[str, ...],
    retain_until: str | None,
    detach: bool,
    json_output: bool,
    passphrase_file: Path | None,
) -> None:
    """Back up PATHS now (Back Up Now), making a recovery point.

    With an agent running (`cairn agent run`), the backup is a job of the agent: its progress is
    shown here, and it waits its turn behind a running backup; Ctrl-C offers to let it go on in
    the background. Without one, it runs in this process.
    """
    home = context.home()
    if retain_until is not None:  # refused here at once; the engine checks it again
        parse_retain_until(retain_until, settings.load_policy(home), context.clock().now())
    client = follow.agent(home, context.given_passphrase(passphrase_file))
    if client is not None:
        _through_agent(client, paths, excludes, retain_until, detach, json_output)
        return
    if detach:
        raise UsageError("--detach needs a running agent: start one with `cairn agent run`")
    repo = open_repository(
        home,
        context.clock(),
        passphrase=context.given_passphrase(passphrase_file),
        prompt=context.prompt(),
    )
    request = BackupRequest(
        [os.path.abspath(p) for p in paths], list(excludes), retain_until=retain_until
    )
    with render.reporter(context.interactive(json_output)) as reporter:
        result = back_up(home, repo, request, reporter)
    p = result.point
    s = p.stats
    if json_output:
        render.emit_json(
            {
                "recovery_point": p.id,
                "time": p.time.isoformat(),
                "status": p.status,
                "paths": p.paths,
                "stats": asdict(s),
                "warnings": [{"path": w.path, "message": w.message} for w in reporter.warnings],
                "duration_s": round(result.duration_s, 3),
                "offline": result.offline,
                "hooks": result.hooks,
            }
        )
    else:
        click.echo(
            f"recovery point {p.id[:8]} {p.status}: {s.files} files, {format_bytes(s.bytes)};"
            f" {s.files_new} new, {s.files_changed} changed, {s.files_unchanged} unchanged;"
            f" added {format_bytes(s.bytes_added)} (stored {format_bytes(s.bytes_stored)})"
            f" in {format_duration(result.duration_s)}"
        )
        if result.offline is not None:
            _staged(result.offline)
        if result.warnings:
            click.echo(f"{result.warnings} warning(s): see above", err=True)
    if result.warnings:
        raise SystemExit(EXIT_WARNINGS)


def _through_agent(
    client: AgentClient,
    paths: tuple[str, ...],
    excludes: tuple[str, ...],
    retain_until: str | None,
    detach: bool,
    json_output: bool,
) -> None:
    params: dict[str, Any] = {
        "paths": [os.path.abspath(p) for p in paths],
        "excludes": list(excludes),
    }
    if retain_until is not None:
        params["retain_until"] = retain_until
    job = client.submit("backup", params)
    if detach:
        if json_output:
            render.emit_json(job.to_json())
        else:
            click.echo(
                f"backup job {job.id[:8]} queued in the agent: `cairn jobs show {job.id[:8]}`"
            )
        return
    if not json_output:
        click.echo(f"backup job {job.id[:8]} runs in the agent", err=True)
    done = follow.follow(client, job, context.interactive(json_output))
    if done is None:
        return
    if json_output:
        render.emit_json(done.to_json())
    elif done.result and done.state.startswith("completed"):
        s = done.result["stats"]
        click.echo(
            f"recovery point {str(done.recovery_point)[:8]} {done.state}: {s['files']} files,"
            f" {format_bytes(s['bytes'])}; {s['files_new']} new, {s['files_changed']} changed,"
            f" {s['files_unchanged']} unchanged; added {format_bytes(s['bytes_added'])}"
            f" (stored {format_bytes(s['bytes_stored'])}) in"
            f" {format_duration(done.result['duration_s'])}"
        )
        if done.result.get("offline"):
            _staged(done.result["offline"])
    code = follow.exit_code(done)
    if done.state in ("failed", "cancelled"):
        raise AgentError(f"backup job {done.id[:8]} {done.state}: {done.error}", code)
    if code:
        raise SystemExit(code)


def _staged(doc: dict[str, Any]) -> None:
    """The offline initial backup went to the staging folder: say so, and what comes next."""
    click.echo(
        f"offline initial backup staged in {doc['staging']} ({format_bytes(doc['staged_bytes'])})"
        f" for import job {doc['import_job']!r}: the machine is awaiting import"
    )
    click.echo(f"next: {doc['next']}")
