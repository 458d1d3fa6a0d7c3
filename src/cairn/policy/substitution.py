"""Which failed slot an on-demand backup takes the place of (MARS's legacy rule).

If the most recent scheduled backup that a weekly, monthly or yearly rule would have kept failed
(or was missed), the first on-demand backup after it and before the next scheduled run takes its
place: it records that slot in `PointFacts.substitutes`, and retention gives it the rules that
would have kept the slot, counted from its own time.

The decision reads the recorded history of slots (`SlotOutcome`) and the earlier on-demand
backups; it never looks at the clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final, Literal

from cairn.policy.model import Policy
from cairn.policy.retention import rules_for_day
from cairn.policy.schedule import Slot, runs_after
from cairn.policy.wallclock import utc

Outcome = Literal["succeeded", "failed", "missed"]
OUTCOMES: Final = ("succeeded", "failed", "missed")


@dataclass(frozen=True, slots=True)
class SlotOutcome:
    """What became of one scheduled slot. "missed" (the agent was not running) counts as failed;
    a slot filled late by a "late" run succeeded."""

    slot: Slot
    outcome: Outcome

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"{self.outcome!r} is not an outcome; allowed: {', '.join(OUTCOMES)}")


def substitute_for(
    policy: Policy,
    at: datetime,
    history: Iterable[SlotOutcome],
    on_demand: Iterable[datetime] = (),
) -> Slot | None:
    """The slot an on-demand backup taken at `at` substitutes for, or None.

    `history` holds the recorded slots (all outcomes; at least since the previous slot that a
    weekly, monthly or yearly rule matches); `on_demand` the times of earlier successful
    on-demand backups (a time equal to `at` is this backup itself and is ignored).

    The candidate is the latest recorded slot before `at` whose local date a weekly, monthly or
    yearly rule matches. It is substituted if it failed or was missed, no on-demand backup came
    between it and `at`, and `at` is before the next run after it (by the schedule, or by the
    next recorded slot, whichever is earlier).
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"at must be a timezone-aware datetime, not {at}")
    at = utc(at)
    recorded = [(utc(entry.slot.instant()), entry) for entry in history]
    before = [(instant, entry) for instant, entry in recorded if instant < at]
    candidates = [(i, e) for i, e in before if kept_beyond_daily(policy, e.slot.date)]
    if not candidates:
        return None
    failed_at, candidate = max(candidates, key=lambda pair: pair[0])
    if candidate.outcome == "succeeded":
        return None
    if any(failed_at < instant < at for instant, _ in recorded):
        return None  # a later slot came (and went) before this backup
    following = runs_after(policy, failed_at, 1)
    if following and utc(following[0].time) <= at:
        return None
    if any(failed_at < utc(t) < at for t in on_demand):
        return None  # an earlier on-demand backup took its place
    return candidate.slot


def kept_beyond_daily(policy: Policy, day: date) -> bool:
    """True if a weekly, monthly or yearly rule matches the local date `day`."""
    return any(rule.name != "daily" for rule in rules_for_day(policy, day))
