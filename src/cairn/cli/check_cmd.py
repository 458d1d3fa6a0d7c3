"""`cairn check`."""

from __future__ import annotations

from pathlib import Path

import click

from cairn.cli import context, follow, render
from cairn.core.errors import DamageFound
from cairn.core.units import format_bytes
from cairn.engine.check import CheckResult, parse_subset
from cairn.engine.check import check as run_check
from cairn.engine.session import open_repository


@click.command()
@click.option("--read-data", is_flag=True, help="Read and verify every blob in the vault.")
@click.option(
    "--read-data-subset", metavar="N/M", help="Read and verify share N of M of the packs."
)
@click.option("--json", "json_output", is_flag=True, help="Print the result as JSON.")
@context.passphrase_option
def check(
    read_data: bool, read_data_subset: str | None, json_output: bool, passphrase_file: Path | None
) -> None:
    """Verify the machine's store in the vault."""
    subset = parse_subset(read_data_subset) if read_data_subset else None
    home = context.home()
    params = {"read_data": read_data, "subset": list(subset) if subset else None}
    done = follow.run(home, "check", params, json_output, context.given_passphrase(passphrase_file))
    if done is not None and done.result is not None:
        result = follow.result_as(CheckResult, done)
    else:
        repo = open_repository(
            home,
            context.clock(),
            passphrase=context.given_passphrase(passphrase_file),
            prompt=context.prompt(),
        )
        with render.reporter(context.interactive(json_output), quiet_warnings=True) as reporter:
            result = run_check(repo, read_data=read_data, subset=subset, reporter=reporter)
        for w in reporter.warnings:  # the errors come again below; others (no lock) here
            if w.message not in result.errors:
                click.echo(f"warning: {w.path}: {w.message}", err=True)
    if json_output:
        render.emit_json(
            {
                "ok": result.ok,
                "points": result.points,
                "trees": result.trees,
                "packs": result.packs,
                "packs_read": result.packs_read,
                "blobs_read": result.blobs_read,
                "bytes_read": result.bytes_read,
                "unindexed_packs": result.unindexed_packs,
                "errors": result.errors,
            }
        )
    else:
        for e in result.errors:
            click.echo(f"error: {e}", err=True)
        click.echo(
            f"checked {result.points} recovery points, {result.trees} trees, {result.packs} packs"
            + (
                f"; read {result.packs_read} packs ({format_bytes(result.bytes_read)}),"
                f" {result.blobs_read} blobs"
                if result.packs_read
                else ""
            )
            + (
                f"; {result.unindexed_packs} packs not yet indexed"
                if result.unindexed_packs
                else ""
            )
        )
    if not result.ok:
        raise DamageFound(f"check found {len(result.errors)} problem(s)")
    if not json_output:
        click.echo("no problems found")
