"""`cairn passphrase change`."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

import click

from cairn.cli import context
from cairn.core.errors import UsageError
from cairn.engine.passphrase import change_passphrase


@click.group()
def passphrase() -> None:
    """The passphrase that opens this machine's store."""


def new_passphrase(new_file: Path | None) -> str:
    if new_file is not None:
        text = context.read_input_file(
            new_file, "--new-passphrase-file", context.PASSPHRASE_FILE_BYTES
        )
        return text.rstrip("\r\n")
    env = os.environ.get("CAIRN_NEW_PASSPHRASE")
    if env:
        return env
    if not sys.stdin.isatty():
        raise UsageError(
            "no new passphrase: give --new-passphrase-file FILE or set CAIRN_NEW_PASSPHRASE"
        )
    first = getpass.getpass("New passphrase (16 characters or more): ")
    if getpass.getpass("Repeat the new passphrase: ") != first:
        raise UsageError("the two new passphrases differ: nothing was changed")
    return first


@passphrase.command("change")
@click.option(
    "--new-passphrase-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the new passphrase from this file (else CAIRN_NEW_PASSPHRASE, else a prompt).",
)
@context.passphrase_option
def change(new_passphrase_file: Path | None, passphrase_file: Path | None) -> None:
    """Change this machine's passphrase (the current one as every command takes it)."""
    current = context.given_passphrase(passphrase_file)
    prompt = context.prompt()
    if current is None and prompt is not None:
        current = prompt("the current passphrase")
    done = change_passphrase(
        context.home(),
        context.clock(),
        passphrase=current,
        new_passphrase=new_passphrase(new_passphrase_file),
    )
    click.echo(
        f"the passphrase of machine {done.machine!r} is changed: new key file {done.new_key_id[:8]},"
        f" {len(done.removed)} old key file(s) removed"
    )
    if done.rewritten_damaged:
        click.echo(
            f"{len(done.rewritten_damaged)} of them were damaged: the new key file replaces them"
        )
    if done.kept_others:
        click.echo(f"{done.kept_others} key file(s) of other passphrases were left as they were")
    click.echo("keep the new passphrase safe: without it and this machine, the data is lost")
