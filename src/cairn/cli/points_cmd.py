"""`cairn recovery-points`."""

from __future__ import annotations

from pathlib import Path

import click

from cairn.cli import context, render
from cairn.core.units import format_bytes
from cairn.engine import settings
from cairn.engine.expiry import point_retention
from cairn.engine.session import open_repository


@click.command("recovery-points")
@click.option("--machine", help="Another machine's recovery points (needs its passphrase).")
@click.option("--deleted", is_flag=True, help="The deleted points (undelete within 14 days).")
@click.option("--json", "json_output", is_flag=True, help="Print as JSON.")
@context.passphrase_option
def recovery_points(
    machine: str | None, deleted: bool, json_output: bool, passphrase_file: Path | None
) -> None:
    """List the recovery points, oldest first (--deleted: the deleted ones)."""
    home = context.home()
    repo = open_repository(
        home,
        context.clock(),
        machine=machine,
        passphrase=context.given_passphrase(passphrase_file),
        prompt=context.prompt(),
    )
    clock = context.clock()
    policy = settings.load_policy(home) if machine is None or machine == repo.machine else None
    listed = repo.list_points(on_damage=lambda _, m: click.echo(f"warning: {m}", err=True))
    purge = repo.guards.deleted() if deleted else {}
    kept = point_retention(
        [p for p in listed if (p.status == "deleted") == deleted], policy, clock.now()
    )
    if json_output:
        render.emit_json(
            [
                {
                    "id": p.id,
                    "time": p.time.isoformat(),
                    "machine": p.machine,
                    "host": p.host,
                    "paths": p.paths,
                    "trigger": p.trigger,
                    "slot": p.slot,
                    "substitutes": p.substitutes,
                    "status": p.status,
                    "retain_until": p.retain_until,
                    "expires": r.expires.isoformat() if r.expires is not None else None,
                    **({"purge_after": purge[p.id].isoformat()} if p.id in purge else {}),
                    "kept_by": list(r.kept_by),
                    "files": p.stats.files,
                    "bytes": p.stats.bytes,
                }
                for r in kept
                for p in (r.point,)
            ]
        )
        return
    click.echo(f"{'deleted ' if deleted else ''}recovery points of machine {repo.machine}")
    if deleted:
        for r in kept:
            click.echo(
                f"{r.point.id[:8]:<10}{r.point.time.astimezone().isoformat(timespec='seconds')}"
                f"  purged by prune after {purge[r.point.id].astimezone().isoformat('T', 'minutes')}"
            )
        click.echo(f"{len(kept)} deleted recovery point(s): `cairn protection undelete [RP ...]`")
        return
    if not kept:
        click.echo("no recovery points yet")
        return
    if policy is None:
        click.echo("no backup policy is set here: no recovery point expires")
    click.echo(
        f"{'ID':<10}{'TIME':<27}{'TRIGGER':<11}{'SIZE':>11}  {'EXPIRES':<27}KEPT BY / SLOT / PATHS"
    )
    for r in kept:
        p = r.point
        local = p.time.astimezone().isoformat(timespec="seconds")
        expires = r.expires.astimezone().isoformat(timespec="seconds") if r.expires else "-"
        kept_by = ", ".join(r.described) or ("expired" if r.expired else "-")
        where = f"fills {p.slot}" if p.slot else ""
        if p.substitutes:
            where = f"substitutes for {p.substitutes}"
        status = "" if p.status == "completed" else f" [{p.status}]"
        click.echo(
            f"{p.id[:8]:<10}{local:<27}{p.trigger:<11}{format_bytes(p.stats.bytes):>11}"
            f"  {expires:<27}{kept_by}{status}"
        )
        detail = "; ".join(x for x in (where, ", ".join(p.paths)) if x)
        click.echo(f"{'':<10}{detail}")
    click.echo(f"{len(kept)} recovery point(s)")
