"""When each recovery point expires and what keeps it: what `recovery-points` and `prune` show.

`point_retention` derives, for every point, from its recorded facts and the policy in force
(`policy.retention`): its expiry, the rules that keep it now ("daily 7 d", "weekly 4 w",
"retain-until 2027-01-31", or "last" for the newest point kept while it is the last one), and
whether prune would delete it, with the reason. Without a policy nothing expires.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from cairn.policy import PointFacts, Policy, expired, expiry, rules_keeping, rules_matching
from cairn.policy.model import DailyRule, MonthlyRule, Rule, WeeklyRule, YearlyRule
from cairn.policy.wallclock import utc
from cairn.vault.points import RecoveryPoint

LAST = "last"
"""What keeps the newest point once its rules are over: it is the last one."""


@dataclass(frozen=True, slots=True)
class PointRetention:
    point: RecoveryPoint
    expires: datetime | None
    """None: kept while it is the last one, or no policy is set."""
    kept_by: tuple[str, ...]
    """What keeps it now: rule names, "retain-until", "last"; () when it expires (or no policy)."""
    described: tuple[str, ...]
    """`kept_by` for people: "daily 7 d", "weekly 4 w", "retain-until 2027-01-31", "last"."""
    expired: bool
    reason: str
    """Why prune deletes it (when `expired`), else why it is kept."""


def facts_of(point: RecoveryPoint) -> PointFacts:
    return PointFacts.from_record(
        point.time, point.trigger, point.slot, point.substitutes, point.retain_until
    )


def point_retention(
    points: Iterable[RecoveryPoint], policy: Policy | None, now: datetime
) -> list[PointRetention]:
    """Each point's expiry and what keeps it at `now`, in the order given."""
    listed = list(points)
    if policy is None:
        return [
            PointRetention(p, None, (), (), False, "no backup policy is set: nothing expires")
            for p in listed
        ]
    gone = {p.id for p in expired(listed, policy, now, facts=facts_of)}
    newest = max((utc(p.time) for p in listed), default=None)
    out = []
    for p in listed:
        facts = facts_of(p)
        until = expiry(facts, policy)
        keeping = rules_keeping(facts, policy, now)
        described = [_describe(name, facts, policy) for name in keeping]
        over = utc(until) <= utc(now)
        if p.id in gone:
            matched = rules_matching(facts, policy)
            by = ", ".join(_describe(n, facts, policy) for n in matched) or "the one-day default"
            reason = f"expired {until.isoformat()} ({by})"
            out.append(PointRetention(p, until, (), (), True, reason))
            continue
        if over and utc(p.time) == newest:
            out.append(
                PointRetention(
                    p, None, (LAST,), (LAST,), False, "kept while it is the last recovery point"
                )
            )
            continue
        if over:  # from the future: a clock that went back
            reason = "taken after now (the clock went back): kept"
        else:
            reason = f"kept until {until.isoformat()}"
        out.append(PointRetention(p, until, tuple(keeping), tuple(described), False, reason))
    return out


def _describe(name: str, facts: PointFacts, policy: Policy) -> str:
    if name == "retain-until":
        return f"retain-until {facts.retain_until}"
    rule: Rule | None = getattr(policy.retention, name, None)
    if isinstance(rule, DailyRule):
        return f"daily {rule.days} d"
    if isinstance(rule, WeeklyRule):
        return f"weekly {rule.weeks} w"
    if isinstance(rule, MonthlyRule):
        return f"monthly {rule.months} mo"
    if isinstance(rule, YearlyRule):
        return f"yearly {rule.years} y"
    return name


def deletion_reasons(
    points: Iterable[RecoveryPoint], policy: Policy | None, now: datetime
) -> list[dict[str, str]]:
    """The points prune deletes at `now`, each with why (JSON-ready: id, time, trigger, expires,
    reason), oldest first as given."""
    return [
        {
            "id": r.point.id,
            "time": r.point.time.isoformat(),
            "trigger": r.point.trigger,
            "expires": r.expires.isoformat() if r.expires is not None else "",
            "reason": r.reason,
        }
        for r in point_retention(points, policy, now)
        if r.expired
    ]
