"""`cairn console [--open]`: a one-time login URL for the console the running agent serves."""

from __future__ import annotations

import json
import webbrowser

import click

from cairn.agent.client import INFO_FILE, AgentClient
from cairn.cli import context
from cairn.core.errors import CairnError


@click.command("console")
@click.option("--open", "open_browser", is_flag=True, help="Open the URL in a browser too.")
def console(open_browser: bool) -> None:
    """Print a login URL for the console (it works once, for 5 minutes)."""
    home = context.home()
    client = AgentClient.find(home.path)
    if client is None:
        raise CairnError(
            f"no agent is running for CAIRN_HOME {home.path}: start it with `cairn agent run`"
            " (it serves the console)"
        )
    try:
        base = json.loads((home.path / INFO_FILE).read_text()).get("console_url")
    except (OSError, ValueError):
        base = None
    if not base:
        raise CairnError("the running agent serves no console: restart it with `cairn agent run`")
    url = f"{base}login?token={client.console_token()}"
    click.echo(url)
    click.echo("the link works once, for 5 minutes", err=True)
    if open_browser and not webbrowser.open(url):
        click.echo("no browser could be opened here: open the link yourself", err=True)
