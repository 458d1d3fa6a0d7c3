"""The wizard's preview chart, drawn as SVG: stacked bars of the points alive at each instant of
`policy.retention_preview`, one colour per rule. Only geometry: the numbers are the policy's."""

from __future__ import annotations

from dataclasses import dataclass

from cairn.policy import RetentionPreview

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 28
LABELS = {
    "daily": "Daily",
    "weekly": "Weekly",
    "monthly": "Monthly",
    "yearly": "Yearly",
    "newest": "Newest (kept while it is the last)",
}


@dataclass(frozen=True, slots=True)
class Rect:
    rule: str
    x: float
    y: float
    w: float
    h: float
    title: str


@dataclass(frozen=True, slots=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    rects: list[Rect]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    legend: list[tuple[str, str]]  # (rule, label)
    left: int
    bottom: float
    right: float
    summary: str


def _nice_max(peak: int) -> int:
    for step in (5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000):
        if peak <= step * 4:
            return max(step * -(-peak // step), step)
    return peak


def draw(preview: RetentionPreview) -> Chart:
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    top = _nice_max(preview.peak)
    n = len(preview.samples)
    slot = plot_w / n
    bar = max(slot * 0.8, 1.0)
    rects: list[Rect] = []
    for i, sample in enumerate(preview.samples):
        x = LEFT + i * slot + (slot - bar) / 2
        base: float = TOP + plot_h
        for rule, count in sample.counts.items():
            h = plot_h * count / top
            base -= h
            rects.append(
                Rect(rule, round(x, 1), round(base, 1), round(bar, 1), round(h, 1),
                     f"{sample.time:%Y-%m-%d}: {count} {LABELS[rule].split(' ')[0].lower()}")
            )  # fmt: skip
    y_ticks = [
        Tick(round(TOP + plot_h - plot_h * v / top, 1), str(v)) for v in range(0, top + 1, top // 4)
    ]
    x_ticks: list[Tick] = []
    first_year = preview.samples[0].time.year
    years = preview.samples[-1].time.year - first_year
    every = 1 if years <= 5 else 2
    for i, sample in enumerate(preview.samples):
        new_year = sample.time.year != (preview.samples[i - 1].time.year if i else None)
        if new_year and (sample.time.year - first_year) % every == 0:
            x_ticks.append(Tick(round(LEFT + i * slot, 1), str(sample.time.year)))
    end = preview.samples[-1]
    parts = ", ".join(f"{c} {LABELS[r].split(' ')[0].lower()}" for r, c in end.counts.items())
    summary = (
        f"Over {years or 1} year(s) from {preview.start:%Y-%m-%d}: at most {preview.peak} recovery"
        f" points alive at once; at the end, {end.total} ({parts})."
    )
    return Chart(
        WIDTH, HEIGHT, rects, y_ticks, x_ticks,
        [(r, LABELS[r]) for r in preview.rules], LEFT, TOP + plot_h, WIDTH - RIGHT, summary,
    )  # fmt: skip
