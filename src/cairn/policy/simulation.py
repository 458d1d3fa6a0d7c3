"""A policy run on a simulated clock: what it keeps, before years of data are trusted to it.

`simulate` takes a scheduled backup at every run time from `start` to `until` (inclusive), except
the runs named in `fail`, and the on-demand backups given (each with an optional retain-until
date). On-demand backups substitute for failed slots as `substitution.substitute_for` decides.
It applies the retention (`retention.expiry`, `retention.alive`) and reports the points alive at
`until`, their count, and the peak count over the run (with the first instant it was reached).
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime

from cairn.core.errors import UsageError
from cairn.policy.model import Policy
from cairn.policy.retention import PointFacts, Trigger, alive, expiry, rules_keeping
from cairn.policy.schedule import Run, Slot, iter_runs, runs_after
from cairn.policy.substitution import SlotOutcome, kept_beyond_daily, substitute_for
from cairn.policy.wallclock import utc

NEWEST = "newest"
"""A simulated point's only rule when it is kept only because it is the newest point."""


@dataclass(frozen=True, slots=True)
class SimulatedPoint:
    """A point alive at the end of a simulation; `rules` are what still keep it then
    (`retention.rules_keeping`), or ("newest",), or () for the one-day on-demand default."""

    time: datetime
    trigger: Trigger
    rules: tuple[str, ...]
    expires: datetime
    slot: Slot | None = None
    substitutes: Slot | None = None
    retain_until: date | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "time": self.time.isoformat(),
            "trigger": self.trigger,
            "rules": list(self.rules),
            "expires": self.expires.isoformat(),
            "slot": str(self.slot) if self.slot is not None else None,
            "substitutes": str(self.substitutes) if self.substitutes is not None else None,
            "retain_until": self.retain_until.isoformat() if self.retain_until else None,
        }


@dataclass(frozen=True, slots=True)
class SimulationResult:
    points: tuple[SimulatedPoint, ...]
    """The points alive at `until`, oldest first."""
    peak: int
    peak_at: datetime | None
    runs: int
    """Scheduled runs in the period, failed ones included."""
    failed: int

    @property
    def count(self) -> int:
        return len(self.points)

    def to_json(self) -> dict[str, object]:
        return {
            "points": [point.to_json() for point in self.points],
            "count": self.count,
            "peak": self.peak,
            "peak_at": self.peak_at.isoformat() if self.peak_at is not None else None,
            "runs": self.runs,
            "failed": self.failed,
        }


def simulate(
    policy: Policy,
    start: datetime,
    until: datetime,
    fail: Collection[datetime] = (),
    on_demand: Iterable[tuple[datetime, date | None]] = (),
) -> SimulationResult:
    """Run `policy` from `start` to `until` (aware, inclusive); see the module doc.

    A time in `fail` that is no run time, or an on-demand time outside the period, is refused
    with `UsageError`.
    """
    for name, moment in (("from", start), ("until", until)):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"{name} must be a timezone-aware datetime, not {moment}")
    if utc(until) < utc(start):
        raise UsageError(f"until: {until.isoformat()} is before from: {start.isoformat()}")
    runs: list[Run] = []
    for run in iter_runs(policy, start):
        if utc(run.time) > utc(until):
            break
        runs.append(run)
    failing = _failing_runs(policy, runs, fail)
    zone = policy.zone
    demands = sorted(((t.astimezone(zone), r) for t, r in on_demand), key=lambda p: utc(p[0]))
    for moment, _ in demands:
        if not utc(start) <= utc(moment) <= utc(until):
            raise UsageError(
                f"on_demand: {moment.isoformat()} is outside the simulated period "
                f"{start.isoformat()} to {until.isoformat()}"
            )
    facts = _take_backups(policy, runs, failing, demands)
    expiries = [expiry(f, policy) for f in facts]
    kept = alive(range(len(facts)), policy, until, lambda i: facts[i])
    points = tuple(_simulated(policy, facts[i], expiries[i], until) for i in kept)
    peak, peak_at = _peak(facts, expiries)
    if peak_at is not None:
        peak_at = peak_at.astimezone(zone)
    return SimulationResult(points, peak, peak_at, runs=len(runs), failed=len(failing))


def _failing_runs(policy: Policy, runs: list[Run], fail: Collection[datetime]) -> set[datetime]:
    times = {utc(run.time) for run in runs}
    for moment in sorted(fail, key=utc):
        if utc(moment) not in times:
            following = runs_after(policy, moment, 1)
            hint = f"; the next run is {following[0].time.isoformat()}" if following else ""
            raise UsageError(
                f"fail: {moment.isoformat()} is not a scheduled run time in the period{hint}"
            )
    return {utc(moment) for moment in fail}


def _take_backups(
    policy: Policy,
    runs: list[Run],
    failing: set[datetime],
    demands: list[tuple[datetime, date | None]],
) -> list[PointFacts]:
    """The backups in time order (a scheduled run before an on-demand one at the same time)."""
    events = [(utc(run.time), 0, i) for i, run in enumerate(runs)]
    events += [(utc(moment), 1, i) for i, (moment, _) in enumerate(demands)]
    events.sort()
    facts: list[PointFacts] = []
    history: list[SlotOutcome] = []
    recent = 0  # history before the latest slot a weekly/monthly/yearly rule matches is not read
    taken: list[datetime] = []
    for moment, kind, index in events:
        if kind == 0:
            run = runs[index]
            if kept_beyond_daily(policy, run.slot.date):
                recent = len(history)
            if utc(run.time) in failing:
                history.append(SlotOutcome(run.slot, "failed"))
                continue
            history.append(SlotOutcome(run.slot, "succeeded"))
            facts.append(PointFacts(run.time, "scheduled", slot=run.slot))
        else:
            local, retain_until = demands[index]
            replaced = substitute_for(policy, moment, history[recent:], taken)
            taken.append(moment)
            facts.append(
                PointFacts(local, "on-demand", substitutes=replaced, retain_until=retain_until)
            )
    return facts


def _simulated(
    policy: Policy, facts: PointFacts, expires: datetime, until: datetime
) -> SimulatedPoint:
    kept_by_rules = utc(expires) > utc(until)
    rules = tuple(rules_keeping(facts, policy, until)) if kept_by_rules else (NEWEST,)
    return SimulatedPoint(
        time=facts.time.astimezone(policy.zone),
        trigger=facts.trigger,
        rules=rules,
        expires=expires.astimezone(policy.zone),
        slot=facts.slot,
        substitutes=facts.substitutes,
        retain_until=facts.retain_until,
    )


def _peak(facts: list[PointFacts], expiries: list[datetime]) -> tuple[int, datetime | None]:
    """The most points alive at once, and when first: the count rises only when one is taken."""
    taken = [utc(f.time) for f in facts]
    ends = [utc(e) for e in expiries]
    order = sorted(range(len(facts)), key=lambda i: taken[i])
    pending: list[datetime] = []
    peak, peak_at = 0, None
    position = 0
    while position < len(order):
        moment = taken[order[position]]
        newest = 0
        while position < len(order) and taken[order[position]] == moment:
            i = order[position]
            heapq.heappush(pending, ends[i])
            if ends[i] <= moment:
                newest += 1
            position += 1
        while pending and pending[0] <= moment:
            heapq.heappop(pending)
        count = len(pending) + newest
        if count > peak:
            peak, peak_at = count, moment
    return peak, peak_at
