"""`cairn offline status | prep | import`: the offline initial backup (docs/offline.md)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from cairn.agent.jobstore import JobStore
from cairn.cli import context, render
from cairn.core.errors import CairnError, DamageFound
from cairn.core.units import format_bytes, format_duration
from cairn.engine import offline, settings
from cairn.engine.offline_import import (
    ImportResult,
    import_disks,
    import_summary,
    open_for_import,
    read_disks,
    save_job,
)
from cairn.engine.offline_prep import PrepOptions, prep
from cairn.engine.session import open_repository


@click.group("offline")
def offline_group() -> None:
    """Offline initial backup: staging, disk preparation, import."""


@offline_group.command("status")
@click.option("--json", "json_output", is_flag=True, help="Print as JSON.")
def status(json_output: bool) -> None:
    """Awaiting import or imported, the staging folder's size and the import job."""
    home = context.home()
    state = offline.load_state(home)
    if state is not None and state.state == "awaiting-import":
        try:
            state = offline.refresh(home, open_repository(home, context.clock()), state)
        except CairnError:
            pass  # the vault cannot be reached: the state kept here is what is known
    doc = offline.status_doc(state)
    policy = settings.load_policy(home)
    if state is None and policy is not None and policy.offline is not None:
        doc = {
            "state": "not-staged",
            "import_job": policy.offline.import_job,
            "staging": policy.offline.staging,
            "next": "the first backup (scheduled, or `cairn backup`) goes to the staging folder",
        }
    if "staging" in doc:
        doc["staging_size"] = _size(str(doc["staging"]))
    if json_output:
        render.emit_json(doc)
        return
    if state is None:
        if doc["state"] == "not-staged":
            click.echo(
                f"import job {doc['import_job']!r}: not staged yet; next: {doc['next']}"
                f" ({doc['staging']})"
            )
        else:
            click.echo(
                'no offline initial backup: with initial_backup = "offline" in the policy, the'
                " first backup goes to its [offline] staging folder"
            )
        return
    click.echo(f"import job: {state.import_job}")
    click.echo(f"machine:    {state.machine}")
    click.echo(f"state:      {state.state.replace('-', ' ')}")
    click.echo(f"staging:    {state.staging} ({format_bytes(doc['staging_size'])})")
    if state.point:
        click.echo(f"point:      {state.point[:8]} staged {state.staged}")
    if state.imported:
        click.echo(f"imported:   {state.imported}")
    click.echo(f"next:       {state.next_step()}")


def _size(staging: str) -> int:
    try:
        return offline.staging_size(staging)
    except (OSError, CairnError):
        return 0


@offline_group.command("prep")
@click.option(
    "--staging",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The staging folder of the policy's [offline] table.",
)
@click.option(
    "--disk",
    "disks",
    multiple=True,
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="A disk (its mounted folder); repeat for several, in order.",
)
@click.option(
    "--disk-size",
    type=click.IntRange(min=1),
    metavar="BYTES",
    help="Use at most this many bytes of each disk.",
)
@click.option("--json", "json_output", is_flag=True, help="Print the summary as JSON.")
def prep_cmd(
    staging: Path, disks: tuple[Path, ...], disk_size: int | None, json_output: bool
) -> None:
    """Copy the staging folder onto disks, with a checksummed manifest on each; run it again
    after an interruption and it resumes."""
    now = context.clock().now().isoformat()
    options = PrepOptions(staging, list(disks), disk_size)
    with render.reporter(context.interactive(json_output)) as reporter:
        result = prep(options, now, reporter)
    if json_output:
        render.emit_json(asdict(result))
        return
    for d in result.disks:
        click.echo(
            f"disk {d['disk']} of {len(result.disks)} ({d['path']}): {d['files']} files,"
            f" {format_bytes(d['bytes'])}; {d['packs']} packs, {d['index']} index segments,"
            f" {d['points']} recovery point(s)"
        )
    resumed = (
        f"; {result.reused_files} verified earlier, not copied again" if result.resumed else ""
    )
    click.echo(
        f"import job {result.import_job!r}: {result.files} files, {format_bytes(result.bytes)};"
        f" copied and verified {result.copied_files} ({format_bytes(result.copied_bytes)})"
        f"{resumed} in {format_duration(result.duration_s)}"
    )
    click.echo("next: ship the disks, then `cairn offline import --disk DIR ...` at the vault")


@offline_group.command("import")
@click.option(
    "--disk",
    "disks",
    multiple=True,
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="A disk of the import job (its mounted folder); repeat for each.",
)
@click.option(
    "--vault-credentials",
    "credentials_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The vault credentials file, where this machine is not registered with the vault.",
)
@click.option("--json", "json_output", is_flag=True, help="Print the result as JSON.")
@context.passphrase_option
def import_cmd(
    disks: tuple[Path, ...],
    credentials_file: Path | None,
    json_output: bool,
    passphrase_file: Path | None,
) -> None:
    """Verify the disks and load what the vault lacks: packs, then the index, then the point."""
    home = context.home()
    clock = context.clock()
    created = clock.now()
    manifests = read_disks(list(disks))
    repo = open_for_import(
        home,
        clock,
        manifests[0],
        credentials_file=credentials_file,
        passphrase=context.given_passphrase(passphrase_file),
        prompt=context.prompt(),
    )
    history = JobStore.in_home(home.path) if home.path.is_dir() else None
    params = {"disks": [str(d) for d in disks], "import_job": manifests[0].doc["import_job"]}
    job = (
        history.create("import", "on-demand", created, params, state="running") if history else None
    )
    try:
        with render.reporter(context.interactive(json_output)) as reporter:
            result = import_disks(repo, manifests, reporter)
    except CairnError as e:
        if history is not None and job is not None:
            history.finish(job.id, "failed", clock.now(), error=str(e), exit_code=e.exit_code)
        raise
    finished = clock.now()
    result.job = save_job(repo, result, created.isoformat(), finished.isoformat())
    if history is not None and job is not None:
        state = "failed" if result.check_errors else "completed"
        history.finish(
            job.id,
            state,
            finished,
            error=result.check_errors[0] if result.check_errors else None,
            exit_code=14 if result.check_errors else 0,
            recovery_point=result.point,
            result=import_summary(result),
        )
    seeding = offline.load_state(home)
    if seeding is not None and seeding.point == result.point:
        offline.refresh(home, repo, seeding)
    _report(result, json_output)
    if result.check_errors:
        raise DamageFound(
            f"the import finished, but check found {len(result.check_errors)} problem(s):"
            f" {result.check_errors[0]}"
        )


def _report(result: ImportResult, json_output: bool) -> None:
    if json_output:
        render.emit_json(import_summary(result) | {"job": result.job})
        return
    if result.already_imported:
        click.echo(
            f"import job {result.import_job!r} was imported already: recovery point"
            f" {result.point[:8]} of machine {result.machine!r} is in the vault; nothing uploaded"
        )
    else:
        click.echo(
            f"imported job {result.import_job!r} from {result.disks} disk(s): verified"
            f" {result.files} files ({format_bytes(result.bytes_verified)}); uploaded"
            f" {result.uploaded_files} ({format_bytes(result.uploaded_bytes)}),"
            f" {result.present_files} were in the vault already; recovery point"
            f" {result.point[:8]} of machine {result.machine!r} is in the vault"
            f" ({format_duration(result.duration_s)})"
        )
    click.echo("next: backups of the machine run incrementally against the imported point")
