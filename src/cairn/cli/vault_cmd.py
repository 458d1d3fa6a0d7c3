"""`cairn vault create` and `cairn register`."""

from __future__ import annotations

from pathlib import Path

import click

from cairn.cli import context
from cairn.engine import session


@click.group()
def vault() -> None:
    """Vaults: where backups are kept."""


@vault.command("create")
@click.argument("location")
def create(location: str) -> None:
    """Create an empty vault at LOCATION (a folder)."""
    info = session.create_vault(location, context.clock())
    click.echo(f"created vault {info.vault_id} at {session.vault_location(location)}")
    click.echo(f"next: cairn register {session.vault_location(location)}")


@click.command()
@click.argument("location")
@click.option("--machine", help="This machine's name in the vault (default: the host name).")
@context.passphrase_option
def register(location: str, machine: str | None, passphrase_file: Path | None) -> None:
    """Register this machine with the vault at LOCATION."""
    result = session.register(
        context.home(),
        location,
        context.clock(),
        machine=machine,
        passphrase=context.given_passphrase(passphrase_file),
        prompt=context.prompt(confirm=True),
    )
    verb = "registered new machine" if result.new_machine else "registered again as machine"
    click.echo(f"{verb} {result.machine!r} with vault {result.vault}")
    click.echo(
        "Keep the passphrase somewhere safe, away from this machine: if both this machine and the"
        " passphrase are lost, the backups cannot be read by anyone."
    )
