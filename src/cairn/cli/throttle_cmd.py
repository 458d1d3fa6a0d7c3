"""`cairn throttle set | show`: the machine's bandwidth throttle (docs/throttle.md)."""

from __future__ import annotations

import click

from cairn.cli import context, render
from cairn.core.units import format_bitrate
from cairn.engine.throttle import ThrottleStatus, set_throttle, throttle_show
from cairn.policy import MAX_RATE_BPS, MIN_RATE_BPS, format_work_days, format_work_hours
from cairn.policy import throttle_to_json as setting_json

_RANGE = f"{format_bitrate(MIN_RATE_BPS)} to {format_bitrate(MAX_RATE_BPS)}"
APPLIES = "remote vaults (azure://, s3://) only; local vaults are not throttled"


@click.group()
def throttle() -> None:
    """Bandwidth throttling for remote vaults: one rate in work hours, another at other times."""


@throttle.command("set")
@click.option("--work-hours", metavar="HH:MM-HH:MM", help="e.g. 09:00-18:00 (may cross midnight).")
@click.option("--work-days", metavar="DAYS", help="e.g. mon-fri, or mon,wed,fri.")
@click.option("--work-rate", metavar="RATE", help=f"Rate in work hours, {_RANGE} (e.g. 4Mbps).")
@click.option("--other-rate", metavar="RATE", help=f"Rate at other times, {_RANGE}.")
@click.option("--timezone", help="IANA zone of the work hours (default: the machine's).")
@click.option("--off", is_flag=True, help="Turn throttling off.")
def set_(
    work_hours: str | None,
    work_days: str | None,
    work_rate: str | None,
    other_rate: str | None,
    timezone: str | None,
    off: bool,
) -> None:
    """Turn throttling on or change it (rates in bits per second: 1Mbps = 1,000,000 bit/s)."""
    home = context.home()
    set_throttle(
        home,
        off=off,
        work_hours=work_hours,
        work_days=work_days,
        work_rate=work_rate,
        other_rate=other_rate,
        timezone=timezone,
    )
    _print(throttle_show(home, context.clock()))


@throttle.command()
@click.option("--json", "json_output", is_flag=True, help="Print as JSON.")
def show(json_output: bool) -> None:
    """Show the throttle, the limit in force now and whether it applies to this machine's vault."""
    status = throttle_show(context.home(), context.clock())
    if json_output:
        render.emit_json(_json(status))
    else:
        _print(status)


def _json(status: ThrottleStatus) -> dict[str, object]:
    doc = setting_json(status.throttle)
    doc["applies_to"] = APPLIES
    doc["vault"] = status.vault
    doc["vault_remote"] = status.vault_remote
    doc["throttled_now"] = status.applies
    if status.throttle is not None:
        doc["work_hours_now"] = status.work_hours_now
        doc["limit_now_bps"] = status.limit_now_bps
        doc["next_change"] = status.next_change.isoformat() if status.next_change else None
    return doc


def _print(status: ThrottleStatus) -> None:
    t = status.throttle
    if t is None:
        click.echo("throttling: off")
    else:
        click.echo("throttling: on")
        click.echo(f"work hours: {format_work_hours(t.work_start, t.work_end)} ({t.timezone})")
        click.echo(f"work days:  {format_work_days(t.work_days)}")
        click.echo(f"work rate:  {format_bitrate(t.work_rate_bps)}")
        click.echo(f"other rate: {format_bitrate(t.other_rate_bps)}")
        if status.limit_now_bps is not None and status.next_change is not None:
            period = "work hours" if status.work_hours_now else "outside work hours"
            click.echo(
                f"now:        {format_bitrate(status.limit_now_bps)} ({period})"
                f" until {status.next_change.isoformat()}"
            )
    click.echo(f"applies to: {APPLIES}")
    if status.vault is None:
        click.echo("vault:      none (this machine is not registered)")
    else:
        kind = "remote" if status.vault_remote else "local: not throttled"
        click.echo(f"vault:      {status.vault} ({kind})")
