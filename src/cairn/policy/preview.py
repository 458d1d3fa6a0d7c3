"""A policy's retention over the next years, as data a chart draws: the Schedule Backup wizard's
preview before Finish.

`retention_preview(policy, start, years, samples)` takes a scheduled backup at every run time from
`start` for `years` years (none failing, no Back Up Now), and at `samples` instants evenly spread
over that span (the last one at its end) counts the recovery points alive, each under the rule that
keeps it longest at that instant (`retention.keeping_until`): "daily", "weekly", "monthly" or
"yearly". A point whose rules are over but is the newest one is counted under "newest" (it is kept
while it is the last one). So the chart shows how the count of points grows and settles, and which
rule holds which part of it. It is the simulator's model (`simulation.simulate`) seen at many
instants instead of one.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime, timedelta

from cairn.policy.model import Policy
from cairn.policy.retention import PointFacts, keeping_until
from cairn.policy.schedule import iter_runs
from cairn.policy.simulation import NEWEST
from cairn.policy.wallclock import utc

RULE_ORDER = ("daily", "weekly", "monthly", "yearly", NEWEST)
MAX_YEARS = 10


@dataclass(frozen=True, slots=True)
class PreviewSample:
    time: datetime
    counts: dict[str, int]
    """Points alive at `time` by the rule keeping each longest (only rules with points)."""

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True, slots=True)
class RetentionPreview:
    start: datetime
    end: datetime
    samples: tuple[PreviewSample, ...]
    rules: tuple[str, ...]
    """The rules that keep at least one point at some sample, in `RULE_ORDER`."""
    runs: int

    @property
    def peak(self) -> int:
        return max((s.total for s in self.samples), default=0)

    def to_json(self) -> dict[str, object]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "rules": list(self.rules),
            "runs": self.runs,
            "peak": self.peak,
            "samples": [{"time": s.time.isoformat(), "counts": s.counts} for s in self.samples],
        }


def default_years(policy: Policy) -> int:
    """Enough years to see the longest rule settle, 1 to `MAX_YEARS`."""
    r = policy.retention
    days = [0]
    if r.daily is not None:
        days.append(r.daily.days)
    if r.weekly is not None:
        days.append(7 * r.weekly.weeks)
    if r.monthly is not None:
        days.append(31 * r.monthly.months)
    if r.yearly is not None:
        days.append(366 * r.yearly.years)
    return max(1, min(MAX_YEARS, -(-(max(days) + 31) // 365)))


def retention_preview(
    policy: Policy, start: datetime, years: int | None = None, samples: int = 60
) -> RetentionPreview:
    """See the module doc; `years` defaults to `default_years(policy)`."""
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError(f"start must be a timezone-aware datetime, not {start}")
    span_years = default_years(policy) if years is None else years
    if not 1 <= span_years <= MAX_YEARS or samples < 2:
        raise ValueError(f"years must be 1 to {MAX_YEARS} and samples at least 2")
    zone = policy.zone
    begin = start.astimezone(zone)
    end = begin + timedelta(days=365 * span_years + span_years // 4)
    step = (utc(end) - utc(begin)) / (samples - 1)
    instants = [utc(begin) + step * i for i in range(samples)]
    counts: list[dict[str, int]] = [{} for _ in instants]
    taken: list[datetime] = []
    ends: list[datetime] = []  # when each point's last rule stops keeping it
    for run in iter_runs(policy, begin):
        moment = utc(run.time)
        if moment > instants[-1]:
            break
        facts = PointFacts(run.time, "scheduled", slot=run.slot)
        reasons = [(name, utc(until)) for name, until in keeping_until(facts, policy)]
        last_until = max((until for _, until in reasons), default=moment)
        taken.append(moment)
        ends.append(last_until)
        first = bisect.bisect_left(instants, moment)
        for i in range(first, bisect.bisect_left(instants, last_until)):
            at = instants[i]
            name = max((r for r in reasons if r[1] > at), key=lambda r: r[1])[0]
            counts[i][name] = counts[i].get(name, 0) + 1
    for i, at in enumerate(instants):
        newest = bisect.bisect_right(taken, at) - 1
        if newest >= 0 and ends[newest] <= at:
            counts[i][NEWEST] = 1  # kept while it is the last one
    present = tuple(r for r in RULE_ORDER if any(r in c for c in counts))
    out = tuple(
        PreviewSample(at.astimezone(zone), {r: c[r] for r in RULE_ORDER if r in c})
        for at, c in zip(instants, counts, strict=True)
    )
    return RetentionPreview(begin, end.astimezone(zone), out, present, len(taken))
