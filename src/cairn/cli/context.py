"""What every command needs: CAIRN_HOME, the clock, the passphrase, and output settings."""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from cairn.core.clock import SystemClock
from cairn.core.errors import UsageError
from cairn.engine.home import Home, default_home

F = TypeVar("F", bound=Callable[..., Any])


def home() -> Home:
    return Home(default_home())


def clock() -> SystemClock:
    return SystemClock()


def passphrase_option(f: F) -> F:
    return click.option(
        "--passphrase-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Read the passphrase from this file (else CAIRN_PASSPHRASE, else a prompt).",
    )(f)


POLICY_FILE_BYTES = 1 << 20
PASSPHRASE_FILE_BYTES = 64 << 10


def read_input_file(path: Path, what: str, limit: int) -> str:
    """The UTF-8 text of a file the user names (`what` names it in messages: "the policy file",
    "--passphrase-file"), read no further than `limit` bytes: a huge or endless file (/dev/zero)
    is refused, not read whole. A pipe (`<(...)`) is read as a file is."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise UsageError(f"cannot read {what} {path}: {e.strerror}") from None
    if len(data) > limit:
        size = f"{limit >> 20} MiB" if limit >= 1 << 20 else f"{limit >> 10} KiB"
        raise UsageError(f"{what} {path} is larger than {size}: name the right file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UsageError(f"{what} {path} is not UTF-8 text (byte {e.start})") from None


def given_passphrase(passphrase_file: Path | None) -> str | None:
    """The passphrase the user gave without being asked, or None."""
    if passphrase_file is not None:
        text = read_input_file(passphrase_file, "--passphrase-file", PASSPHRASE_FILE_BYTES)
        return text.rstrip("\r\n")
    env = os.environ.get("CAIRN_PASSPHRASE")
    return env if env else None


def prompt(confirm: bool = False) -> Callable[[str], str] | None:
    """A prompt on the terminal, or None when nobody can answer one."""
    if not sys.stdin.isatty():
        return None

    def ask(why: str) -> str:
        first = getpass.getpass(f"Passphrase ({why}): ")
        new = confirm and why.startswith("a new passphrase")
        if new and getpass.getpass("Repeat the passphrase: ") != first:
            raise UsageError("the two passphrases differ")
        return first

    return ask


def interactive(json_output: bool) -> bool:
    return not json_output and sys.stderr.isatty()
