"""`cairn agent run`: the service that runs the policy's schedule and the jobs (a foreground process;
contrib/cairn-agent.service runs it under systemd)."""

from __future__ import annotations

import logging
import signal
import sys

import click

from cairn.agent.client import AgentClient
from cairn.agent.firststart import first_start
from cairn.agent.service import Agent
from cairn.cli import context, render
from cairn.cli.status_cmd import gather, render_health
from cairn.console.app import create_app
from cairn.core.units import format_bytes


@click.group()
def agent() -> None:
    """The agent: scheduled backups, the job queue and its history, the local API."""


@agent.command("run")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="The local API's port on 127.0.0.1 (0: any free port; agent.json tells).",
)
@click.option(
    "--no-setup",
    is_flag=True,
    help="Refuse to start when nothing is registered, instead of making a local vault.",
)
def run(port: int, no_setup: bool) -> None:
    """Run the agent in the foreground until SIGTERM or Ctrl-C."""
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s cairn-agent %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    home = context.home()
    clock = context.clock()
    # The composition point: the agent serves the console's app (the console sits above it).
    service = Agent(home, clock, port=port, console=create_app)

    def setup() -> None:
        if no_setup:
            home.registration()  # NotRegistered (exit 10) says what to do
            return
        made = first_start(home, clock)
        if made is None:
            return
        click.echo(
            f"first start: created a vault at {made.vault} and registered machine {made.machine!r}"
        )
        if sys.stdout.isatty():
            click.echo(f"its passphrase, shown once: {made.passphrase}")
        click.echo(
            f"the passphrase is kept in {made.passphrase_file} (mode 0600): keep a copy away from"
            " this machine; without it and this machine, the backups cannot be read"
        )
        click.echo(
            f"the default policy backs up {', '.join(made.policy.items)} daily at 21:00"
            " (kept 30 days; Sundays' kept 12 weeks): `cairn policy show`"
        )

    service.start(setup)
    service.stop_on_signals(signal.SIGTERM, signal.SIGINT)
    click.echo(
        f"agent running on 127.0.0.1:{service.port} (CAIRN_HOME {home.path}); Ctrl-C stops it"
    )
    click.echo("the console: `cairn console --open` gives a login link")
    service.run()
    click.echo("agent stopped")


@agent.command("status")
@click.option("--json", "json_output", is_flag=True, help="Print the status as JSON.")
def status(json_output: bool) -> None:
    """Whether an agent runs for this CAIRN_HOME, its next scheduled backup and its running job."""
    home = context.home()
    client = AgentClient.find(home.path)
    if client is None:
        message = f"no agent is running for CAIRN_HOME {home.path}: `cairn agent run`"
        if json_output:
            render.emit_json(
                {"agent_running": False, "home": str(home.path), "error": message, "exit_code": 1}
            )
        else:
            click.echo(message)
        raise SystemExit(1)
    doc = client.status()
    health = gather()
    if json_output:
        render.emit_json({"agent_running": True, **doc, "health": health.to_json()})
        return
    click.echo(f"agent pid {doc['pid']} on 127.0.0.1:{doc['port']} (cairn {doc['version']})")
    click.echo(f"machine:  {doc.get('machine') or '-'}")
    click.echo(f"next scheduled backup: {doc.get('next_run') or 'none (no policy)'}")
    job = doc.get("running")
    if job:
        p = job.get("progress") or {}
        click.echo(
            f"running:  {job['kind']} job {job['id'][:8]} ({job['trigger']}),"
            f" {p.get('files_done', 0)} files, {format_bytes(int(p.get('bytes_done') or 0))}"
        )
    else:
        click.echo("running:  nothing")
    click.echo(f"queued:   {doc.get('queued', 0)} job(s)")
    seeding = doc.get("offline") or {}
    if seeding.get("state") == "awaiting-import":
        click.echo(
            f"offline:  awaiting import of job {seeding['import_job']!r}: scheduled backups wait;"
            f" next: {seeding['next']}"
        )
    elif seeding.get("state") in ("staging", "imported"):
        click.echo(f"offline:  {seeding['state']} (import job {seeding['import_job']!r})")
    failed = doc.get("last_failure")
    if failed:
        when = failed.get("finished") or failed.get("created")
        slot = f", slot {failed['slot']}" if failed.get("slot") else ""
        click.echo(
            f"last failure: {failed['kind']} job {failed['id'][:8]} ({failed['trigger']}{slot})"
            f" at {when}: {failed.get('error') or 'no message'}"
        )
    render_health(health)
