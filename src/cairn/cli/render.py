"""Progress bars on a terminal, warnings on stderr, JSON for scripts."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Final

import click

from cairn.core import events
from cairn.core.units import format_bitrate, format_bytes


class _Output:
    results = 0
    """JSON documents printed by this process: a failure after a result adds no second one."""


def emitted_results() -> int:
    return _Output.results


def emit_json(value: Any) -> None:
    _Output.results += 1
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def emit_json_line(value: Any) -> None:
    """One compact JSON document on one line (JSON lines, for listings that stream)."""
    _Output.results += 1
    sys.stdout.write(json.dumps(value, separators=(",", ":"), default=str) + "\n")


def limit_text(limit_bps: int | None) -> str:
    """The throttle's limit as the bar shows it: 'limit 4Mbps', or nothing when not throttled."""
    return f"limit {format_bitrate(limit_bps)}" if limit_bps is not None else ""


COUNTED: Final = {"check data": "packs"}
"""What a phase's `files_done` counts when it is not files."""


def counted(p: events.Progress) -> str:
    """'3/10 files' (or packs, for the phase that reads packs); '' without a total."""
    if p.files_total is None:
        return ""
    return f"{p.files_done}/{p.files_total} {COUNTED.get(p.phase, 'files')}"


def rate_text(bytes_per_second: float | None) -> str:
    """'1.5 MiB/s', in the units `format_bytes` writes sizes in; '?' before a rate is known."""
    return "?" if bytes_per_second is None else f"{format_bytes(bytes_per_second)}/s"


@contextmanager
def reporter(show_progress: bool, quiet_warnings: bool = False) -> Iterator[events.Reporter]:
    """A Reporter that draws a bar (files, bytes, rate, ETA) when `show_progress`."""

    def warn(w: events.Warning_) -> None:
        if not quiet_warnings:
            where = f"{w.path}: " if w.path else ""
            click.echo(f"warning: {where}{w.message}", err=True)

    if not show_progress:
        yield events.Reporter(on_warning=warn)
        return
    # rich is imported only when a bar is drawn: scripts and no-change backups skip its cost.
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        ProgressColumn,
        Task,
        TaskID,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class BinaryRateColumn(ProgressColumn):
        """The rate in the sizes' units (MiB/s beside MiB; rich's own column says MB/s)."""

        def render(self, task: Task) -> Text:
            return Text(rate_text(task.finished_speed or task.speed), style="progress.data.speed")

    err = Console(stderr=True, highlight=False)
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[files]}"),
        DownloadColumn(binary_units=True),
        BinaryRateColumn(),
        TextColumn("{task.fields[limit]}"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def warn_above_bar(w: events.Warning_) -> None:
        if not quiet_warnings:
            where = f"{w.path}: " if w.path else ""
            err.print(f"[yellow]warning:[/] {escape(where + w.message)}", highlight=False)

    last = [0.0]

    def on_progress(p: events.Progress) -> None:
        now = time.monotonic()
        if now - last[0] < 0.1 and p.files_done != p.files_total:
            return
        last[0] = now
        files = counted(p)
        limit = limit_text(p.limit_bps)
        if p.phase not in tasks:
            for done in list(tasks):  # one phase at a time: the previous one is over
                bar.remove_task(tasks.pop(done))
            tasks[p.phase] = bar.add_task(
                p.phase, total=p.bytes_total or None, files=files, limit=limit
            )
        bar.update(
            tasks[p.phase],
            completed=p.bytes_done,
            total=p.bytes_total or None,
            files=files,
            limit=limit,
        )

    with bar:
        yield events.Reporter(on_progress=on_progress, on_warning=warn_above_bar)


def deletions(verb: str, reasons: list[dict[str, str]]) -> None:
    """The recovery points prune deletes (or would), each with why (`engine.expiry`)."""
    for r in reasons:
        local = datetime.fromisoformat(r["time"]).astimezone().isoformat(timespec="seconds")
        click.echo(f"  {verb} {r['id'][:8]} {local} {r['trigger']}: {r['reason']}")
