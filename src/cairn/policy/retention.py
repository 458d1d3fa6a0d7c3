"""How long a recovery point is kept, derived from the facts it records and the policy in force.

A point's facts are never rewritten (`PointFacts`); its expiry is computed each time, so a policy
change moves every expiry at once:

- Scheduled (or late) point: the rules matching its slot's local date keep it (daily matches
  every date; weekly, monthly and yearly rules match every scheduled time of a matching date).
  Expiry = the slot's local time plus the longest matching duration, as wall clock in the slot's
  zone, resolved like a run time (`wallclock.resolve`). A slot no rule of the current policy
  matches (the schedule changed since) is kept by the base rule: daily under a daily schedule,
  weekly under a weekly one.
- On-demand point with a retain-until date: kept through the end of that date in the policy's
  zone (rule ``"retain-until"``).
- On-demand point without one: under a daily schedule the daily rule, under a weekly schedule
  one day (no rule), both counted from its own time.
- On-demand point that substitutes for a failed slot: the rules that match that slot, counted from
  its own time, in the policy's zone. With a retain-until date as well, the later of the two.
- The newest point never expires while it is the newest (`alive`); a point from the future (a
  clock that went back) is alive too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final, Literal, TypeVar, overload
from zoneinfo import ZoneInfo

from cairn.policy.model import Policy, Rule
from cairn.policy.schedule import Slot
from cairn.policy.wallclock import add_days, end_of_day, local_time, resolve, utc

Trigger = Literal["scheduled", "on-demand", "late"]
TRIGGERS: Final = ("scheduled", "on-demand", "late")
RETAIN_UNTIL: Final = "retain-until"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PointFacts:
    """What a recovery point records about itself for retention.

    `slot` is the scheduled slot a scheduled or late point fills (None for on-demand);
    `substitutes` the failed slot an on-demand point takes the place of; `retain_until` an
    on-demand point's explicit date. Inconsistent facts raise `ValueError`.
    """

    time: datetime
    trigger: Trigger
    slot: Slot | None = None
    substitutes: Slot | None = None
    retain_until: date | None = None

    def __post_init__(self) -> None:
        if self.time.tzinfo is None or self.time.utcoffset() is None:
            raise ValueError(f"a point's time must be timezone-aware, not {self.time}")
        if self.trigger not in TRIGGERS:
            raise ValueError(f"{self.trigger!r} is not a trigger; allowed: {', '.join(TRIGGERS)}")
        if self.trigger == "on-demand":
            if self.slot is not None:
                raise ValueError("an on-demand point fills no slot")
        else:
            if self.slot is None:
                raise ValueError(f"a {self.trigger} point records the slot it fills")
            if self.substitutes is not None or self.retain_until is not None:
                raise ValueError("only an on-demand point substitutes or has a retain-until date")

    @classmethod
    def from_record(
        cls,
        time: datetime,
        trigger: str,
        slot: str | None = None,
        substitutes: str | None = None,
        retain_until: str | None = None,
    ) -> PointFacts:
        """Build facts from the strings a stored recovery point holds (`ValueError` if bad)."""
        if trigger not in TRIGGERS:
            raise ValueError(f"{trigger!r} is not a trigger; allowed: {', '.join(TRIGGERS)}")
        return cls(
            time=time,
            trigger=trigger,  # type: ignore[arg-type]  # checked just above
            slot=Slot.parse(slot) if slot is not None else None,
            substitutes=Slot.parse(substitutes) if substitutes is not None else None,
            retain_until=date.fromisoformat(retain_until) if retain_until is not None else None,
        )


def rules_for_day(policy: Policy, day: date) -> list[Rule]:
    """The policy's rules whose days include the local date `day`, daily first."""
    return [rule for rule in policy.retention.rules() if rule.matches(day)]


def rules_matching(facts: PointFacts, policy: Policy) -> list[str]:
    """The names of what keeps the point: "daily", "weekly", "monthly", "yearly", "retain-until".

    An empty list is the on-demand default under a weekly schedule (one day).
    """
    return [name for name, _ in _reasons(facts, policy) if name]


def rules_keeping(facts: PointFacts, policy: Policy, now: datetime) -> list[str]:
    """The names from `rules_matching` that still keep the point at `now`."""
    return [name for name, until in _reasons(facts, policy) if name and utc(until) > utc(now)]


def keeping_until(facts: PointFacts, policy: Policy) -> list[tuple[str, datetime]]:
    """Each name from `rules_matching` with the instant it stops keeping the point."""
    return [(name, until) for name, until in _reasons(facts, policy) if name]


def expiry(facts: PointFacts, policy: Policy) -> datetime:
    """The instant the point stops being kept, aware (see the module doc)."""
    return max((until for _, until in _reasons(facts, policy)), key=utc)


def _reasons(facts: PointFacts, policy: Policy) -> list[tuple[str, datetime]]:
    """What keeps the point, each with the instant it stops keeping it ("" for the default)."""
    if facts.slot is not None:
        rules = _slot_rules(facts.slot, policy)
        return _keep_by(rules, facts.slot.local, ZoneInfo(facts.slot.zone))
    zone = policy.zone
    own = local_time(facts.time, zone)
    reasons: list[tuple[str, datetime]] = []
    if facts.substitutes is not None:
        reasons = _keep_by(_slot_rules(facts.substitutes, policy), own, zone)
    if facts.retain_until is not None:
        reasons.append((RETAIN_UNTIL, end_of_day(facts.retain_until, zone)))
    if reasons:
        return reasons
    daily = policy.retention.daily
    if policy.schedule.frequency == "daily" and daily is not None:
        return _keep_by([daily], own, zone)
    return [("", resolve(add_days(own, 1), zone))]


def _slot_rules(slot: Slot, policy: Policy) -> list[Rule]:
    rules = rules_for_day(policy, slot.date)
    if rules:
        return rules
    retention = policy.retention
    base = retention.daily if policy.schedule.frequency == "daily" else retention.weekly
    return [base] if base is not None else []


def _keep_by(rules: list[Rule], local: datetime, zone: ZoneInfo) -> list[tuple[str, datetime]]:
    """Each rule's end: `local` plus its duration, wall clock, resolved in `zone`."""
    return [(rule.name, resolve(rule.keep_until(local), zone)) for rule in rules]


@overload
def alive(points: Iterable[PointFacts], policy: Policy, now: datetime) -> list[PointFacts]: ...
@overload
def alive(
    points: Iterable[T], policy: Policy, now: datetime, facts: Callable[[T], PointFacts]
) -> list[T]: ...
def alive(
    points: Iterable[T],
    policy: Policy,
    now: datetime,
    facts: Callable[[T], PointFacts] | None = None,
) -> list[T]:
    """The points still kept at `now`, in the order given.

    A point is kept while `now` is before its expiry; the newest point (all points sharing the
    latest time) is always kept, as are points from the future. `facts` reads a point's facts
    (default: the points are `PointFacts`). Pass only the successful points.
    """
    return _split(points, policy, now, facts)[0]


@overload
def expired(points: Iterable[PointFacts], policy: Policy, now: datetime) -> list[PointFacts]: ...
@overload
def expired(
    points: Iterable[T], policy: Policy, now: datetime, facts: Callable[[T], PointFacts]
) -> list[T]: ...
def expired(
    points: Iterable[T],
    policy: Policy,
    now: datetime,
    facts: Callable[[T], PointFacts] | None = None,
) -> list[T]:
    """The points that `alive` does not keep at `now`: the ones prune deletes."""
    return _split(points, policy, now, facts)[1]


def _split(
    points: Iterable[T], policy: Policy, now: datetime, facts: Callable[[T], PointFacts] | None
) -> tuple[list[T], list[T]]:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be a timezone-aware datetime, not {now}")
    read: Callable[[T], PointFacts] = facts if facts is not None else _identity
    listed = [(point, read(point)) for point in points]
    if not listed:
        return [], []
    newest = max(utc(f.time) for _, f in listed)
    at = utc(now)
    kept: list[T] = []
    gone: list[T] = []
    for point, f in listed:
        taken = utc(f.time)
        if taken == newest or taken > at or utc(expiry(f, policy)) > at:
            kept.append(point)
        else:
            gone.append(point)
    return kept, gone


def _identity(point: T) -> PointFacts:
    assert isinstance(point, PointFacts)
    return point
