"""The dashboard's chart, drawn on the server as inline SVG (no script, no library): the bytes the
recovery points added to the vault, cumulated, and the number of points, over time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from markupsafe import Markup, escape

from cairn.core.units import format_bytes
from cairn.engine.overview import HistoryPoint

WIDTH, HEIGHT = 460, 210
LEFT, RIGHT, TOP, BOTTOM = 84, 44, 18, 38


def _x(t: datetime, first: datetime, span: float) -> float:
    return LEFT + (WIDTH - LEFT - RIGHT) * ((t - first).total_seconds() / span if span else 1.0)


def _y(value: float, top: float) -> float:
    return HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * (value / top if top else 0.0)


def history_chart(history: Sequence[HistoryPoint]) -> Markup:
    if not history:
        return Markup(
            '<p class="note">No recovery points yet: the chart starts with the first.</p>'
        )
    first, last = history[0].time, history[-1].time
    span = (last - first).total_seconds()
    top_bytes = max(h.stored_bytes for h in history) or 1
    top_points = max(h.points for h in history)
    stored = " ".join(
        f"{_x(h.time, first, span):.1f},{_y(h.stored_bytes, top_bytes):.1f}" for h in history
    )
    counts = " ".join(
        f"{_x(h.time, first, span):.1f},{_y(h.points, top_points):.1f}" for h in history
    )
    base = HEIGHT - BOTTOM
    label = (
        f"Stored bytes grew to {format_bytes(top_bytes)} and recovery points to {top_points}"
        f" between {first.astimezone():%Y-%m-%d} and {last.astimezone():%Y-%m-%d}"
    )
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
        f'<line x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}" stroke="#8a96a3"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base}" stroke="#8a96a3"/>',
        f'<line x1="{WIDTH - RIGHT}" y1="{TOP}" x2="{WIDTH - RIGHT}" y2="{base}" stroke="#8a96a3"/>',
        f'<polyline fill="none" stroke="#0b62a4" stroke-width="2.5" points="{stored}"/>',
        f'<polyline fill="none" stroke="#d9822b" stroke-width="2" stroke-dasharray="5 3" points="{counts}"/>',
        f'<text x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end" font-size="14" fill="#0b62a4">'
        f"{escape(format_bytes(top_bytes))}</text>",
        f'<text x="{LEFT - 6}" y="{base}" text-anchor="end" font-size="14" fill="#0b62a4">0</text>',
        f'<text x="{WIDTH - RIGHT + 6}" y="{TOP + 4}" font-size="14" fill="#d9822b">{top_points}</text>',
        f'<text x="{WIDTH - RIGHT + 6}" y="{base}" font-size="14" fill="#d9822b">0</text>',
        f'<text x="{LEFT}" y="{HEIGHT - 12}" font-size="14" fill="#5b6775">{first.astimezone():%Y-%m-%d}</text>',
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 12}" text-anchor="end" font-size="14" fill="#5b6775">'
        f"{last.astimezone():%Y-%m-%d}</text>",
        "</svg>",
    ]
    return Markup("".join(parts))
