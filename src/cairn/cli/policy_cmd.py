"""`cairn policy set | show | next-runs | simulate`."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from pathlib import Path

import click

from cairn.cli import context, render
from cairn.core.errors import UsageError
from cairn.engine import offline, settings
from cairn.engine.protection import check_policy_change
from cairn.engine.session import open_repository
from cairn.policy import Policy, next_runs, policy_to_json, policy_to_toml, resolve, simulate


def _read_file(path: Path, today: date) -> Policy:
    text = context.read_input_file(path, "the policy file", context.POLICY_FILE_BYTES)
    return settings.read_policy_file(text, today)


def _when(text: str, policy: Policy, flag: str) -> datetime:
    """An ISO 8601 date-time; without an offset it is local to the policy's zone."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{flag} {text!r} is not a date-time like 2026-12-07T18:00 or 2026-12-07T18:00+01:00"
        ) from None
    if value.tzinfo is None:
        return resolve(value, policy.zone)
    return value.astimezone(policy.zone)


def _policy_for_preview(file: Path | None, today: date) -> Policy:
    if file is not None:
        return _read_file(file, today)
    return settings.require_policy(context.home())


@click.group()
def policy() -> None:
    """The backup policy: items, schedule, retention."""


@policy.command("set")
@click.option(
    "--file",
    "file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A policy file (TOML, the shape in docs/policy.md).",
)
@click.option("--item", "items", multiple=True, metavar="PATH", help="A file or folder to protect.")
@click.option(
    "--exclude", "excludes", multiple=True, metavar="PATTERN", help="A pattern to leave out."
)
@click.option("--daily", metavar="HH:MM[,HH:MM...]", help="Back up every day at these times.")
@click.option("--weekly", metavar="DAY[,DAY...]", help="Back up on these days (mon..sun)...")
@click.option("--at", "at", metavar="HH:MM[,HH:MM...]", help="...at these times (with --weekly).")
@click.option("--every-weeks", type=int, help="With --weekly: every N weeks (1-4).")
@click.option("--keep-days", type=int, help="Keep each daily recovery point N days.")
@click.option("--keep-weeks", type=int, help="Keep the weekly ones N weeks...")
@click.option("--weekly-on", metavar="DAY[,DAY...]", help="...those taken on these days.")
@click.option("--keep-months", type=int, help="Keep the last Saturday's of each month N months.")
@click.option("--keep-years", type=int, help="Keep the last Saturday of March's N years.")
@click.option("--timezone", help="IANA time zone (default: the machine's).")
@click.option(
    "--allow-missing",
    is_flag=True,
    help="Accept items that do not exist now (a removable drive); a scheduled run fails if none do.",
)
@click.option("--pin", "pin_", metavar="PIN", help="A security PIN: to lower any retention.")
@context.passphrase_option
def set_(
    file: Path | None,
    items: tuple[str, ...],
    excludes: tuple[str, ...],
    daily: str | None,
    weekly: str | None,
    at: str | None,
    every_weeks: int | None,
    keep_days: int | None,
    keep_weeks: int | None,
    weekly_on: str | None,
    keep_months: int | None,
    keep_years: int | None,
    timezone: str | None,
    allow_missing: bool,
    pin_: str | None,
    passphrase_file: Path | None,
) -> None:
    """Set the policy from a file, or from flags for the common cases."""
    clock = context.clock()
    today = clock.now().astimezone().date()
    if file is not None:
        new = _read_file(file, today)
    else:
        new = settings.policy_from_flags(
            _flags_to_tables(
                items,
                excludes,
                daily,
                weekly,
                at,
                every_weeks,
                keep_days,
                keep_weeks,
                weekly_on,
                keep_months,
                keep_years,
                timezone,
            ),
            today,
        )
    if not allow_missing:
        settings.check_items(new)
    home = context.home()
    repo = open_repository(
        home, clock, passphrase=context.given_passphrase(passphrase_file), prompt=context.prompt()
    )
    lowered = check_policy_change(home, repo, settings.load_policy(home), new, pin_, clock.now())
    settings.save_policy(home, repo, new, clock.now())
    for warning in settings.exclusion_warnings(new):
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"policy set for machine {repo.machine!r}")
    for change in lowered:
        click.echo(f"retention lowered: {change}")
    click.echo(policy_to_toml(new), nl=False)


def _split(text: str | None) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()] if text else []


def _flags_to_tables(
    items: tuple[str, ...],
    excludes: tuple[str, ...],
    daily: str | None,
    weekly: str | None,
    at: str | None,
    every_weeks: int | None,
    keep_days: int | None,
    keep_weeks: int | None,
    weekly_on: str | None,
    keep_months: int | None,
    keep_years: int | None,
    timezone: str | None,
) -> dict[str, object]:
    if not items:
        raise UsageError("name what to protect: --item PATH (repeatable), or --file policy.toml")
    if (daily is None) == (weekly is None):
        raise UsageError("give one schedule: --daily HH:MM[,HH:MM] or --weekly DAYS --at HH:MM")
    section: dict[str, object] = {
        "items": [str(Path(i).expanduser().absolute()) for i in items],
        "exclude": list(excludes),
    }
    if timezone:
        section["timezone"] = timezone
    schedule: dict[str, object]
    if daily is not None:
        schedule = {"frequency": "daily", "times": _split(daily)}
    else:
        if not at:
            raise UsageError("--weekly needs --at HH:MM[,HH:MM]")
        schedule = {"frequency": "weekly", "days": _split(weekly), "times": _split(at)}
        if every_weeks is not None:
            schedule["every_weeks"] = every_weeks
    retention: dict[str, object] = {}
    if keep_days is not None:
        retention["daily"] = {"days": keep_days}
    if keep_weeks is not None:
        rule: dict[str, object] = {"weeks": keep_weeks}
        on = _split(weekly_on) or (_split(weekly) if weekly else ["sun"])
        rule["days_of_week"] = on
        retention["weekly"] = rule
    if keep_months is not None:
        retention["monthly"] = {
            "weeks_of_month": ["last"],
            "days_of_week": ["sat"],
            "months": keep_months,
        }
    if keep_years is not None:
        retention["yearly"] = {
            "months_of_year": ["mar"],
            "weeks_of_month": ["last"],
            "days_of_week": ["sat"],
            "years": keep_years,
        }
    return {"policy": section, "schedule": schedule, "retention": retention}


@policy.command()
@click.option("--json", "json_output", is_flag=True, help="Print as JSON.")
def show(json_output: bool) -> None:
    """Show the policy in force (with an offline initial backup, where it stands)."""
    home = context.home()
    current = settings.require_policy(home)
    seeding = offline.load_state(home) if current.offline is not None else None
    if json_output:
        doc = policy_to_json(current)
        if current.offline is not None:
            doc["seeding"] = offline.status_doc(seeding)
        render.emit_json(doc)
    else:
        click.echo(policy_to_toml(current), nl=False)
        if current.offline is not None:
            click.echo(f"# offline initial backup: {_seeding_line(seeding)}")


def _seeding_line(state: offline.OfflineState | None) -> str:
    if state is None:
        return "not staged yet: the first backup (scheduled or `cairn backup`) goes to staging"
    if state.state == "awaiting-import":
        return state.reason()
    return f"{state.state} (import job {state.import_job!r}); next: {state.next_step()}"


@policy.command("next-runs")
@click.option(
    "--file",
    "file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Preview this policy file instead of the policy in force.",
)
@click.option("--from", "start", metavar="DATETIME", help="From this time (default: now).")
@click.option("--count", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--json", "json_output", is_flag=True, help="Print a JSON list of times.")
def next_runs_(file: Path | None, start: str | None, count: int, json_output: bool) -> None:
    """The next scheduled run times (ISO 8601, with the UTC offset)."""
    now = context.clock().now()
    today = now.astimezone().date()
    if start is not None:
        try:
            today = datetime.fromisoformat(start).date()
        except ValueError:
            pass  # _when reports the bad value
    current = _policy_for_preview(file, today)
    after = _when(start, current, "--from") if start else now.astimezone(current.zone)
    times = [t.isoformat() for t in next_runs(current, after, count)]
    if json_output:
        render.emit_json(times)
    else:
        for t in times:
            click.echo(t)


@policy.command("simulate")
@click.option(
    "--file",
    "file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Simulate this policy file instead of the policy in force.",
)
@click.option("--from", "start", required=True, metavar="DATETIME")
@click.option("--until", "until", required=True, metavar="DATETIME")
@click.option(
    "--fail",
    "fails",
    multiple=True,
    metavar="DATETIME",
    help="A scheduled run that fails (repeatable).",
)
@click.option(
    "--on-demand",
    "on_demand",
    multiple=True,
    metavar="DATETIME[=DATE]",
    help="A Back Up Now at this time, kept until DATE if given (repeatable).",
)
@click.option("--json", "json_output", is_flag=True, help="Print a JSON list of points.")
def simulate_(
    file: Path | None,
    start: str,
    until: str,
    fails: tuple[str, ...],
    on_demand: tuple[str, ...],
    json_output: bool,
) -> None:
    """Run the schedule on a simulated clock and show the recovery points alive at --until."""
    try:
        first_day = datetime.fromisoformat(start).date()
    except ValueError:
        raise UsageError(f"--from {start!r} is not a date-time like 2026-12-07T18:00") from None
    current = _policy_for_preview(file, first_day)
    if current.start > first_day:
        # A policy runs from its start date; a simulation starts at --from (DESIGN.md).
        current = dataclasses.replace(current, start=first_day)
    begin = _when(start, current, "--from")
    end = _when(until, current, "--until")
    failed = [_when(f, current, "--fail") for f in fails]
    extra = []
    for item in on_demand:
        when, _, keep = item.partition("=")
        retain = None
        if keep:
            try:
                retain = date.fromisoformat(keep)
            except ValueError:
                raise UsageError(f"--on-demand {item!r}: {keep!r} is not a date") from None
        extra.append((_when(when, current, "--on-demand"), retain))
    result = simulate(current, begin, end, fail=failed, on_demand=extra)
    if json_output:
        render.emit_json([p.to_json() for p in result.points])
        return
    click.echo(f"{'TIME':<27}{'TRIGGER':<11}{'KEPT BY':<26}EXPIRES")
    for p in result.points:
        rules = ", ".join(p.rules) or "-"
        click.echo(f"{p.time.isoformat():<27}{p.trigger:<11}{rules:<26}{p.expires.isoformat()}")
    peak_at = f" at {result.peak_at.isoformat()}" if result.peak_at else ""
    click.echo(
        f"{result.count} recovery point(s) alive at {end.isoformat()}; peak {result.peak}"
        f"{peak_at}; {result.runs} runs, {result.failed} failed"
    )
