"""`cairn unregister` (engine/unregister.py)."""

from __future__ import annotations

import click

from cairn.cli import context
from cairn.engine.unregister import unregister as run_unregister


@click.command("unregister")
@click.option(
    "--forget-passphrase",
    is_flag=True,
    help="Also remove the passphrase a first start kept in CAIRN_HOME (keep a copy first).",
)
def unregister(forget_passphrase: bool) -> None:
    """Forget this machine's key and credentials here; the vault is left as it is."""
    done = run_unregister(context.home(), forget_passphrase=forget_passphrase)
    click.echo(
        f"machine {done.machine!r} is no longer registered here ({len(done.removed)} file(s)"
        f" removed); its store in {done.vault} is untouched"
    )
    click.echo(
        f"to go on with it: `cairn register {done.vault} --machine {done.machine}` and its"
        " passphrase"
    )
