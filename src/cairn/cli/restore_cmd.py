"""`cairn ls` and `cairn restore`."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import click

from cairn.cli import context, follow, render
from cairn.core.errors import DamageFound
from cairn.core.units import format_bytes
from cairn.engine.listing import list_point
from cairn.engine.restore import CONFLICTS, RestoreOptions, RestoreResult
from cairn.engine.restore import restore as run_restore
from cairn.engine.session import open_repository
from cairn.vault.tree import Node

_TYPE = {
    "file": "-",
    "dir": "d",
    "symlink": "l",
    "fifo": "p",
    "socket": "s",
    "chardev": "c",
    "blockdev": "b",
}


def _mode(node: Node) -> str:
    return _TYPE.get(node.kind, "?") + stat.filemode(node.mode)[1:]


@click.command()
@click.argument("rp")
@click.argument("path", default="/")
@click.option("--machine", help="Another machine's store (needs its passphrase).")
@click.option("--json", "json_output", is_flag=True, help="Print as JSON lines.")
@context.passphrase_option
def ls(
    rp: str, path: str, machine: str | None, json_output: bool, passphrase_file: Path | None
) -> None:
    """List what recovery point RP holds under PATH (RP: an id, a prefix, or latest)."""
    repo = open_repository(
        context.home(),
        context.clock(),
        machine=machine,
        passphrase=context.given_passphrase(passphrase_file),
        prompt=context.prompt(),
    )
    point = repo.find_point(rp)
    damaged: list[str] = []
    for item in list_point(repo, point, path):
        n = item.node
        if item.damaged:
            damaged.append(item.path)
            click.echo(f"warning: {item.path}: folder listing damaged: {item.damaged}", err=True)
            continue
        if json_output:
            render.emit_json_line(
                {
                    "path": item.path,
                    "type": n.kind,
                    "mode": n.mode,
                    "size": n.size,
                    "mtime_ns": n.mtime_ns,
                    "uid": n.uid,
                    "gid": n.gid,
                }
            )
            continue
        try:
            when = f"{datetime.fromtimestamp(n.mtime_ns / 1e9, UTC).astimezone():%Y-%m-%d %H:%M}"
        except (OverflowError, OSError, ValueError):
            when = "????-??-?? ??:??"  # a time no clock shows: the vault says so, ls goes on
        suffix = f" -> {n.target.decode(errors='replace')}" if n.target is not None else ""
        click.echo(
            f"{_mode(n)} {n.user or n.uid!s:>8} {n.group or n.gid!s:>8} {n.size:>12}"
            f" {when} {item.path}{suffix}"
        )
    if damaged:
        shown = "\n  ".join(damaged[:50])
        raise DamageFound(
            f"{len(damaged)} folder(s) could not be listed, their listing in the vault is damaged"
            f" or missing:\n  {shown}\nrun `cairn check --read-data` to see the damage"
        )


@click.command()
@click.argument("rp")
@click.argument("paths", nargs=-1)
@click.option(
    "--target",
    type=click.Path(file_okay=False),
    help="Restore under this folder"
    " (each item at TARGET/its/original/path); default: the original location.",
)
@click.option(
    "--conflict",
    type=click.Choice(CONFLICTS),
    default="copy",
    show_default=True,
    help="When a file exists: keep both (copy), replace it, or leave it.",
)
@click.option("--machine", help="Restore another machine's recovery point (needs its passphrase).")
@click.option(
    "--restore-special",
    is_flag=True,
    help="With --machine OTHER: also restore device nodes, setuid/setgid bits and file"
    " capabilities as stored (withheld by default from another machine's point).",
)
@click.option(
    "--no-permissions",
    "no_permissions",
    is_flag=True,
    help="Give restored files this machine's default permissions (no owner, ACLs or recorded"
    ' mode), as MARS does without "restore ACL permissions".',
)
@click.option("--json", "json_output", is_flag=True, help="Print the result as JSON.")
@context.passphrase_option
def restore(
    rp: str,
    paths: tuple[str, ...],
    target: str | None,
    conflict: str,
    machine: str | None,
    restore_special: bool,
    no_permissions: bool,
    json_output: bool,
    passphrase_file: Path | None,
) -> None:
    """Restore files and folders from recovery point RP (an id, a prefix, or latest).

    With an agent running, this machine's restores are jobs of the agent (another machine's,
    with --machine, need its passphrase and run here)."""
    home = context.home()
    done = None
    if machine is None:
        params = {
            "point": rp,
            "paths": [os.path.abspath(p) for p in paths],
            "target": os.path.abspath(target) if target is not None else None,
            "conflict": conflict,
            "permissions": not no_permissions,
        }
        done = follow.run(
            home, "restore", params, json_output, context.given_passphrase(passphrase_file)
        )
    if done is not None and done.result is not None:
        point_id = str(done.result["recovery_point"])
        result = follow.result_as(RestoreResult, done)
        warnings = done.warnings
    else:
        repo = open_repository(
            home,
            context.clock(),
            machine=machine,
            passphrase=context.given_passphrase(passphrase_file),
            prompt=context.prompt(),
        )
        point = repo.find_point(rp)
        point_id = point.id
        own = repo.machine == home.registration().machine
        options = RestoreOptions(
            list(paths),
            target,
            conflict,
            restore_special=restore_special or own,
            permissions=not no_permissions,
        )
        with render.reporter(context.interactive(json_output)) as reporter:
            result = run_restore(repo, point, options, reporter)
        warnings = [{"path": w.path, "message": w.message} for w in reporter.warnings]
    if json_output:
        render.emit_json(
            {
                "recovery_point": point_id,
                "files": result.files,
                "dirs": result.dirs,
                "bytes": result.bytes,
                "skipped": result.skipped,
                "copies": result.copies,
                "overwrites": result.overwrites,
                "identical": result.identical,
                "damaged": result.damaged,
                "warnings": warnings,
            }
        )
    else:
        click.echo(
            f"restored {result.files} files and {result.dirs} folders ({format_bytes(result.bytes)})"
            f" from recovery point {point_id[:8]}; existing files: {result.copies} kept beside"
            f" a copy, {result.overwrites} overwritten, {result.skipped} left alone (skip),"
            f" {result.identical} already identical"
        )
    if result.damaged:
        shown = "\n  ".join(result.damaged[:50])
        more = f"\n  ... and {len(result.damaged) - 50} more" if len(result.damaged) > 50 else ""
        raise DamageFound(
            f"{len(result.damaged)} file(s) or folder(s) could not be restored because their data"
            " (or a folder's listing) in the vault is damaged or missing (nothing was written for"
            f" them; the rest was restored):\n  {shown}{more}\n"
            "run `cairn check --read-data` to see the damage"
        )
    if warnings:
        raise SystemExit(3)
