"""`cairn repair`."""

from __future__ import annotations

from pathlib import Path

import click

from cairn.cli import context, render
from cairn.core.errors import DamageFound
from cairn.engine.repair import repair as run_repair
from cairn.engine.session import open_repository


@click.command()
@click.option("--json", "json_output", is_flag=True, help="Print the result as JSON.")
@context.passphrase_option
def repair(json_output: bool, passphrase_file: Path | None) -> None:
    """Rebuild the index from the packs and mark recovery points that lost data as damaged."""
    clock = context.clock()
    repo = open_repository(
        context.home(),
        clock,
        passphrase=context.given_passphrase(passphrase_file),
        prompt=context.prompt(),
    )
    with render.reporter(context.interactive(json_output)) as reporter:
        result = run_repair(repo, now=clock.now(), reporter=reporter)
    if json_output:
        render.emit_json(
            {
                "ok": result.ok,
                "packs_indexed": result.packs_indexed,
                "packs_unreadable": result.packs_unreadable,
                "missing_packs": result.missing_packs,
                "segments_superseded": result.segments_superseded,
                "points_checked": result.points_checked,
                "points_damaged": result.points_damaged,
                "points_healed": result.points_healed,
            }
        )
    else:
        click.echo(
            f"rebuilt the index from {result.packs_indexed} pack(s); checked"
            f" {result.points_checked} recovery point(s)"
        )
        for pid in result.points_healed:
            click.echo(f"recovery point {pid[:8]} is whole again: its damage mark is removed")
    if not result.ok:
        raise DamageFound(
            f"{len(result.points_damaged)} recovery point(s) lost data and are marked damaged"
            f" ({', '.join(p[:8] for p in result.points_damaged[:10])}); the next backup uploads"
            " the lost data it still finds"
        )
    if not json_output:
        click.echo("no recovery point lost data")
