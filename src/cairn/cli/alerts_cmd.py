"""`cairn alerts set | show | test`: where alerts go (engine/alerts.py, engine/alert_queue.py)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import click

from cairn.cli import context, render
from cairn.core.errors import CairnError, DeliveryFailed, UsageError
from cairn.core.ids import random_id
from cairn.engine.alert_channels import Alert, channels
from cairn.engine.alert_queue import queue_state, send_now
from cairn.engine.alerts import describe, load_alerts, set_alerts


@click.group()
def alerts() -> None:
    """Alerts on a failed backup, a stale machine and every critical operation."""


def _password(password_file: Path | None) -> str | None:
    if password_file is not None:
        try:
            return password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as e:
            raise UsageError(
                f"cannot read --smtp-password-file {password_file}: {e.strerror}"
            ) from None
    return os.environ.get("CAIRN_SMTP_PASSWORD") or None


@alerts.command("set")
@click.option("--webhook", metavar="URL", help="POST each alert as JSON to this URL.")
@click.option("--no-webhook", is_flag=True, help="Stop sending to the webhook.")
@click.option("--email", "email", multiple=True, metavar="TO", help="Mail alerts to TO (repeat).")
@click.option("--no-email", is_flag=True, help="Stop sending mail.")
@click.option("--smtp", metavar="HOST:PORT", help="The SMTP server that sends the mail.")
@click.option("--smtp-user", metavar="USER", help="Log in to the SMTP server as USER.")
@click.option(
    "--smtp-password-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The SMTP password, from this file (else CAIRN_SMTP_PASSWORD).",
)
@click.option(
    "--smtp-security",
    type=click.Choice(["starttls", "tls", "none"]),
    help="starttls (the default), tls (SMTPS) or none (a local relay only).",
)
@click.option("--from", "sender", metavar="ADDRESS", help="The mail's From (cairn@HOSTNAME).")
@click.option("--off", is_flag=True, help="Send no alerts at all.")
@click.option("--json", "json_output", is_flag=True, help="Print the settings as JSON.")
def set_cmd(
    webhook: str | None,
    no_webhook: bool,
    email: tuple[str, ...],
    no_email: bool,
    smtp: str | None,
    smtp_user: str | None,
    smtp_password_file: Path | None,
    smtp_security: str | None,
    sender: str | None,
    off: bool,
    json_output: bool,
) -> None:
    """Set where alerts go; what is not named is kept."""
    if not any(
        (
            webhook,
            no_webhook,
            email,
            no_email,
            smtp,
            smtp_user,
            smtp_password_file,
            smtp_security,
            sender,
            off,
        )
    ):
        raise UsageError("name what to set: --webhook URL, --email TO --smtp HOST:PORT, or --off")
    home = context.home()
    home.registration()  # not registered: exit 10
    settings = set_alerts(
        home,
        off=off,
        webhook=webhook,
        no_webhook=no_webhook,
        email=email,
        no_email=no_email,
        smtp=smtp,
        smtp_user=smtp_user,
        smtp_password=_password(smtp_password_file) if smtp_user or smtp_password_file else None,
        smtp_security=smtp_security,
        sender=sender,
    )
    _show(describe(settings), json_output)


@alerts.command("show")
@click.option("--json", "json_output", is_flag=True, help="Print as JSON.")
def show(json_output: bool) -> None:
    """Where alerts go (secrets not shown), the open conditions and the alerts not yet sent."""
    home = context.home()
    doc = describe(load_alerts(home))
    state = queue_state(home)
    doc["open"] = sorted(state["open"])
    doc["pending"] = [
        {
            "subject": e["alert"]["subject"],
            "channels": e["channels"],
            "attempts": e["attempts"],
            "next_try": e["next_try"],
            "last_error": e["last_error"],
        }
        for e in state["pending"]
    ]
    doc["log"] = state["log"][-10:]
    _show(doc, json_output)


def _show(doc: dict[str, object], json_output: bool) -> None:
    if json_output:
        render.emit_json(doc)
        return
    email = doc.get("email")
    click.echo(f"webhook: {doc.get('webhook') or 'none'}")
    if isinstance(email, dict):
        user = f", user {email['user']}" if email.get("user") else ""
        click.echo(
            f"email:   to {', '.join(email['to'])} from {email['sender']} through"
            f" {email['smtp']} ({email['security']}{user})"
        )
    else:
        click.echo("email:   none")
    if not doc.get("webhook") and not isinstance(email, dict):
        click.echo("no alerts are sent: `cairn alerts set --webhook URL` or --email TO --smtp H:P")
    if "open" in doc:
        click.echo(f"open conditions: {', '.join(doc['open']) or 'none'}")  # type: ignore[arg-type]
        for p in doc.get("pending") or []:  # type: ignore[attr-defined]
            error = f"; last error: {p['last_error']}" if p["last_error"] else ""
            click.echo(
                f"not yet sent: {p['subject']} to {', '.join(p['channels'])}"
                f" (attempts {p['attempts']}, next {p['next_try']}{error})"
            )


@alerts.command("test")
def test() -> None:
    """Send a test alert to every target now; exit 1 naming each one that failed."""
    home = context.home()
    settings = load_alerts(home)
    if not settings.configured:
        raise UsageError("no alert target is set: `cairn alerts set --webhook URL` first")
    try:
        machine = home.registration().machine
    except CairnError:
        machine = socket.gethostname()
    now = context.clock().now()
    alert = Alert(
        random_id(),
        "test",
        machine,
        f"[cairn] {machine}: test alert",
        f"A test alert from machine {machine}: alerts reach this target.",
        now.isoformat(),
    )
    failed = []
    for d in send_now(alert, channels(settings)):
        if d.error is None:
            click.echo(f"{d.channel}: sent")
        else:
            click.echo(f"{d.channel}: NOT sent: {d.error}")
            failed.append(d.channel)
    if failed:
        raise DeliveryFailed(f"the test alert did not reach: {', '.join(failed)}")
