"""`cairn recovery-points`."""

from __future__ import annotations

from pathlib import Path

import click

from cairn.cli import context, render
from cairn.core.units import format_bytes
from cairn.engine.session import open_repository


@click.command("recovery-points")
@click.option("--machine", help="Another machine's recovery points (needs its passphrase).")
@click.option("--json", "json_output", is_flag=True, help="Print as JSON.")
@context.passphrase_option
def recovery_points(machine: str | None, json_output: bool, passphrase_file: Path | None) -> None:
    """List the recovery points, oldest first."""
    repo = open_repository(
        context.home(),
        context.clock(),
        machine=machine,
        passphrase=context.given_passphrase(passphrase_file),
        prompt=context.prompt(),
    )
    points = repo.list_points(on_damage=lambda _, m: click.echo(f"warning: {m}", err=True))
    if json_output:
        render.emit_json(
            [
                {
                    "id": p.id,
                    "time": p.time.isoformat(),
                    "machine": p.machine,
                    "host": p.host,
                    "paths": p.paths,
                    "trigger": p.trigger,
                    "slot": p.slot,
                    "substitutes": p.substitutes,
                    "status": p.status,
                    "retain_until": p.retain_until,
                    "files": p.stats.files,
                    "bytes": p.stats.bytes,
                }
                for p in points
            ]
        )
        return
    if not points:
        click.echo("no recovery points yet")
        return
    click.echo(f"{'ID':<10}{'TIME':<27}{'TRIGGER':<11}{'STATUS':<25}{'SIZE':>11}  PATHS")
    for p in points:
        local = p.time.astimezone().isoformat(timespec="seconds")
        click.echo(
            f"{p.id[:8]:<10}{local:<27}{p.trigger:<11}{p.status:<25}"
            f"{format_bytes(p.stats.bytes):>11}  {', '.join(p.paths)}"
        )
    click.echo(f"{len(points)} recovery point(s)")
