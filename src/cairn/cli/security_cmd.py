"""`cairn security pin | off --pin PIN | on` (engine/protection.py)."""

from __future__ import annotations

from pathlib import Path

import click

from cairn.cli import context
from cairn.core.errors import UsageError
from cairn.engine import protection
from cairn.engine.session import open_repository


@click.group()
def security() -> None:
    """The security PIN and the guard rails it opens (docs/security.md)."""


@security.command("pin")
@context.passphrase_option
def pin(passphrase_file: Path | None) -> None:
    """Print a 6-digit PIN, valid 5 minutes, usable once (needs the passphrase)."""
    home = context.home()
    clock = context.clock()
    given = context.given_passphrase(passphrase_file)
    ask = context.prompt()
    if given is None and ask is not None:
        given = ask("the passphrase, to make a security PIN")
    if given is None:
        raise UsageError(
            "a security PIN needs the machine's passphrase (not only the key kept here): set"
            " CAIRN_PASSPHRASE or give --passphrase-file FILE"
        )
    repo = open_repository(home, clock, passphrase=given)  # a wrong one is exit 12
    code = protection.issue_pin(repo, clock.now())
    click.echo(code)
    click.echo(
        "valid 5 minutes, once: for protection stop --delete-data, lowering retention"
        " (policy set --pin) and security off",
        err=True,
    )


@security.command("off")
@click.option("--pin", "pin_", metavar="PIN", help="A PIN from `cairn security pin`.")
def off(pin_: str | None) -> None:
    """Turn security off (needs a PIN): deleting data and lowering retention then need none."""
    home = context.home()
    clock = context.clock()
    repo = open_repository(home, clock)
    protection.set_security(home, repo, False, pin_, clock.now())
    click.echo(f"security of machine {repo.machine!r} is off: `cairn security on` turns it on")


@security.command("on")
def on() -> None:
    """Turn security on again (the default)."""
    home = context.home()
    clock = context.clock()
    repo = open_repository(home, clock)
    protection.set_security(home, repo, True, None, clock.now())
    click.echo(f"security of machine {repo.machine!r} is on")
