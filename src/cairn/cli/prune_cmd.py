"""`cairn prune`."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import click

from cairn.cli import context, follow, render
from cairn.core.units import format_bytes
from cairn.engine import settings
from cairn.engine.expiry import deletion_reasons
from cairn.engine.protection import forget_purged, prune_targets
from cairn.engine.prune import DEFAULT_GRACE, PruneResult
from cairn.engine.prune import prune as run_prune
from cairn.engine.session import open_repository

MAX_GRACE_HOURS = 87600  # ten years


class GraceHours(click.ParamType[float]):
    """A finite number of hours from 0 to MAX_GRACE_HOURS (nan, inf and negatives refused)."""

    name = "hours"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        try:
            hours = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            hours = math.nan
        if not (math.isfinite(hours) and 0 <= hours <= MAX_GRACE_HOURS):
            self.fail(f"{value!r}: give a number of hours from 0 to {MAX_GRACE_HOURS}", param, ctx)
        return hours


@click.command()
@click.option("--dry-run", is_flag=True, help="Show what would be deleted; change nothing.")
@click.option(
    "--grace-hours",
    type=GraceHours(),
    default=DEFAULT_GRACE.total_seconds() / 3600,
    show_default=True,
    help="Data must stay unreferenced this long before it is deleted.",
)
@click.option("--json", "json_output", is_flag=True, help="Print the result as JSON.")
@context.passphrase_option
def prune(
    dry_run: bool, grace_hours: float, json_output: bool, passphrase_file: Path | None
) -> None:
    """Delete expired recovery points, then data no recovery point needs."""
    home = context.home()
    clock = context.clock()
    policy = settings.load_policy(home)
    params = {"dry_run": dry_run, "grace_hours": grace_hours}
    done = follow.run(home, "prune", params, json_output, context.given_passphrase(passphrase_file))
    if done is not None and done.result is not None:
        result = follow.result_as(PruneResult, done)
        reasons = list(done.result.get("expiring", []))
    else:
        repo = open_repository(
            home,
            clock,
            passphrase=context.given_passphrase(passphrase_file),
            prompt=context.prompt(),
        )
        now = clock.now()
        points = repo.list_points()
        expired = prune_targets(repo, points, policy, now)
        reasons = deletion_reasons([p for p in points if p.status != "deleted"], policy, now)
        with render.reporter(context.interactive(json_output)) as reporter:
            result = run_prune(
                repo,
                expired,
                now=now,
                grace=timedelta(hours=grace_hours),
                dry_run=dry_run,
                reporter=reporter,
            )
        if not dry_run:
            forget_purged(repo, result.points_deleted)
    if json_output:
        render.emit_json(
            {
                "dry_run": dry_run,
                "points_deleted": result.points_deleted,
                "expiring": reasons,
                "points_kept": result.points_kept,
                "packs_deleted": result.packs_deleted,
                "packs_repacked": result.packs_repacked,
                "packs_waiting": result.packs_waiting,
                "bytes_reclaimed": result.bytes_reclaimed,
                "bytes_waiting": result.bytes_waiting,
                "temp_files_removed": result.temp_files_removed,
                "temp_bytes_removed": result.temp_bytes_removed,
                "stale_locks_removed": result.stale_locks_removed,
            }
        )
        return
    verb = "would delete" if dry_run else "deleted"
    if policy is None:
        click.echo("no backup policy is set, so no recovery point expires")
    click.echo(
        f"{verb} {len(result.points_deleted)} expired recovery point(s); {result.points_kept} kept"
    )
    render.deletions(verb, reasons)
    click.echo(
        f"{verb} {result.packs_deleted} pack(s), reclaiming"
        f" {format_bytes(result.bytes_reclaimed)}; repacked {result.packs_repacked}"
    )
    if result.packs_waiting:
        click.echo(
            f"{result.packs_waiting} unreferenced pack(s) ({format_bytes(result.bytes_waiting)})"
            f" wait for the grace period of {grace_hours:g} h and a second prune"
        )
    if result.temp_files_removed:
        click.echo(
            f"removed {result.temp_files_removed} temp file(s)"
            f" ({format_bytes(result.temp_bytes_removed)}) left by writes that never finished"
        )
    if result.stale_locks_removed:
        click.echo(
            f"removed {result.stale_locks_removed} stale lock(s) left by processes that are gone"
        )
