"""`cairn status`: this machine's health (engine/health.py); exit 0 healthy, 3 stale or failing."""

from __future__ import annotations

from datetime import datetime

import click

from cairn.cli import context, render
from cairn.core.errors import EXIT_WARNINGS, StorageError
from cairn.core.units import format_bytes
from cairn.engine import settings
from cairn.engine.health import Health, machine_health
from cairn.engine.protection import local_state
from cairn.engine.session import open_repository
from cairn.vault.repository import Repository


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.isoformat(timespec="seconds")


def gather() -> Health:
    home = context.home()
    clock = context.clock()
    reg = home.registration()  # not registered: exit 10
    repo: Repository | None = None
    problem = None
    try:
        repo = open_repository(home, clock)
    except StorageError as e:
        problem = f"the vault at {reg.vault} cannot be opened: {e}"
    return machine_health(
        home,
        repo,
        settings.load_policy(home),
        clock.now(),
        protection=local_state(home).describe(),
        open_problem=problem,
    )


@click.command("status")
@click.option("--json", "json_output", is_flag=True, help="Print the health as JSON.")
def status(json_output: bool) -> None:
    """This machine's health: last success and failure, next run, stale, protection, usage.

    Exits 0 when healthy, 3 when stale, failing or the vault cannot be read."""
    health = gather()
    if json_output:
        render.emit_json({"healthy": health.healthy, "machines": [health.to_json()]})
    else:
        render_health(health)
    if not health.healthy:
        raise SystemExit(EXIT_WARNINGS)


def render_health(health: Health) -> None:
    click.echo(f"machine {health.machine}: {'healthy' if health.healthy else 'NOT HEALTHY'}")
    for problem in health.problems:
        click.echo(f"  problem: {problem}")
    point = (
        f" (recovery point {health.last_success_point[:8]})" if health.last_success_point else ""
    )
    click.echo(f"last success:  {_when(health.last_success)}{point}")
    failure = health.last_failure
    if failure is None:
        click.echo("last failure:  none recorded")
    else:
        slot = f", slot {failure.slot}" if failure.slot else ""
        click.echo(
            f"last failure:  {_when(failure.at)} ({failure.trigger} {failure.kind} job"
            f" {failure.job_id[:8]}{slot}): {failure.reason}"
        )
    click.echo(f"next run:      {_when(health.next_run)}")
    click.echo(f"protection:    {health.protection}")
    if health.usage is not None:
        click.echo(
            f"vault usage:   {format_bytes(health.usage.machine_bytes)} for this machine"
            f" ({health.usage.points} recovery points), {format_bytes(health.usage.vault_bytes)}"
            " in the whole vault"
        )
    if health.critical:
        click.echo("critical operations (30 days, recorded in the vault):")
        for e in health.critical:
            click.echo(f"  {_when(e.time)}  {e.operation}: {e.detail} (on {e.host})")
