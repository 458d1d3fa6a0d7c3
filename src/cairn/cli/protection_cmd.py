"""`cairn protection stop | resume | undelete` (engine/protection.py)."""

from __future__ import annotations

import click

from cairn.cli import context
from cairn.core.errors import UsageError
from cairn.engine import protection
from cairn.engine.session import open_repository


@click.group("protection")
def protection_group() -> None:
    """Stop or resume this machine's protection; bring deleted recovery points back."""


@protection_group.command("stop")
@click.option("--retain-data", is_flag=True, help="Schedule off; points age out by the policy.")
@click.option("--delete-data", is_flag=True, help="Schedule off; every point soft-deleted.")
@click.option("--pin", "pin_", metavar="PIN", help="A PIN from `cairn security pin`.")
def stop(retain_data: bool, delete_data: bool, pin_: str | None) -> None:
    """Stop protection: --retain-data, or --delete-data --pin PIN (undelete within 14 days)."""
    if retain_data == delete_data:
        raise UsageError("give one of --retain-data or --delete-data --pin PIN")
    home = context.home()
    clock = context.clock()
    repo = open_repository(home, clock)
    deleted = protection.stop(home, repo, clock.now(), delete_data=delete_data, pin=pin_)
    click.echo(f"protection of machine {repo.machine!r} is stopped: no scheduled backups")
    if delete_data:
        click.echo(
            f"{len(deleted)} recovery point(s) deleted: hidden now, purged by prune after 14 days;"
            " `cairn protection undelete` brings them back until then"
        )
    else:
        click.echo("its recovery points are kept and age out by the policy (the newest never)")
    click.echo("`cairn protection resume` turns the schedule on again")


@protection_group.command("resume")
def resume() -> None:
    """Turn the schedule on again; backups go on incrementally."""
    home = context.home()
    clock = context.clock()
    repo = open_repository(home, clock)
    protection.resume(home, repo, clock.now())
    click.echo(f"protection of machine {repo.machine!r} is on: scheduled backups run again")


@protection_group.command("undelete")
@click.argument("points", nargs=-1, metavar="[RP ...]")
def undelete(points: tuple[str, ...]) -> None:
    """Bring deleted recovery points back (all of them, or those named)."""
    home = context.home()
    clock = context.clock()
    repo = open_repository(home, clock)
    ids = protection.undelete(repo, list(points), clock.now())
    click.echo(f"{len(ids)} recovery point(s) brought back")
    for pid in ids:
        click.echo(f"  {pid[:8]}")
