"""`cairn vault create` and `cairn register`."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import click

from cairn.cli import context
from cairn.core.errors import CairnError, UsageError
from cairn.engine import session


@click.group()
def vault() -> None:
    """Vaults: where backups are kept."""


@vault.command("create")
@click.argument("location")
@click.option(
    "--save-credentials",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the vault credentials file (mode 0600) that `cairn register` takes on each machine.",
)
@click.option(
    "--append-only",
    is_flag=True,
    help="Cairn's commands never delete or overwrite backups here; prune is refused.",
)
@click.option(
    "--object-lock",
    "object_lock",
    type=click.IntRange(1, 36500),
    metavar="DAYS",
    help="S3 only: each pack, index and point locked (COMPLIANCE) for DAYS days as written.",
)
def create(
    location: str, save_credentials: Path | None, append_only: bool, object_lock: int | None
) -> None:
    """Create an empty vault at LOCATION (a folder)."""
    info = session.create_vault(
        location,
        context.clock(),
        save_credentials=save_credentials,
        environ=os.environ,
        append_only=append_only,
        object_lock_days=object_lock,
    )
    if object_lock is not None:
        click.echo(f"S3 Object Lock: every pack, index and point is kept {object_lock} days")
    if append_only:
        click.echo("append-only: no backup in it is deleted or replaced through Cairn; no prune")
    where = session.vault_location(location)
    click.echo(f"created vault {info.vault_id} at {where}")
    if save_credentials is not None:
        click.echo(
            f"saved its vault credentials to {save_credentials} (mode 0600): it holds the"
            " vault's secrets; copy it only to the machines that back up to this vault"
        )
        click.echo(f"next: cairn register --vault-credentials {save_credentials}")
    else:
        click.echo(f"next: cairn register {where}")


@click.command()
@click.argument("location", required=False)
@click.option(
    "--vault-credentials",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A vault credentials file (from `cairn vault create --save-credentials`), instead of"
    " LOCATION.",
)
@click.option("--machine", help="This machine's name in the vault (default: the host name).")
@click.option(
    "--force",
    is_flag=True,
    help="Switch a CAIRN_HOME registered as another machine to this one.",
)
@context.passphrase_option
def register(
    location: str | None,
    vault_credentials: Path | None,
    machine: str | None,
    force: bool,
    passphrase_file: Path | None,
) -> None:
    """Register this machine with the vault at LOCATION, or the one a vault credentials file names."""
    home = context.home()
    try:
        current: str | None = home.registration().machine
    except CairnError:
        current = None
    wanted = (machine or socket.gethostname()).strip().lower()  # as the vault stores names
    if current is not None and wanted != current and not force:
        raise UsageError(
            f"CAIRN_HOME {home.path} is registered as machine {current!r}: registering it as"
            f" {wanted!r} would make this host back up as that machine from now on (its policy,"
            f" schedule and recovery points are {current!r}'s). Use another CAIRN_HOME for"
            f" {wanted!r}, or pass --force to switch"
        )
    result = session.register(
        home,
        location,
        context.clock(),
        credentials_file=vault_credentials,
        machine=machine,
        passphrase=context.given_passphrase(passphrase_file),
        prompt=context.prompt(confirm=True),
        environ=os.environ,
    )
    verb = "registered new machine" if result.new_machine else "registered again as machine"
    click.echo(f"{verb} {result.machine!r} with vault {result.vault}")
    if result.policy_restored:
        click.echo("restored the backup policy kept in the vault (see `cairn policy show`)")
    if result.kept_credentials:
        click.echo("kept the vault's credentials in CAIRN_HOME (mode 0600) for unattended runs")
    click.echo(
        "Keep the passphrase somewhere safe, away from this machine: if both this machine and the"
        " passphrase are lost, the backups cannot be read by anyone."
    )
