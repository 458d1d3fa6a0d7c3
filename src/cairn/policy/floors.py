"""Whether a new policy lowers any retention of the old one (pure; engine/protection.py asks for a
security PIN then). The floors themselves are the limits (policy/limits.py): no policy keeps
daily points under 7 days, weekly under 4 weeks, monthly under 3 months, yearly under 1 year.

A change lowers retention when a rule of the old policy is gone, keeps for less, or keeps fewer
days (a selection of weekdays, days or weeks of month, months that is not a superset of the old
one). Anything else (a longer time, more days, a new rule) raises or keeps it.
"""

from __future__ import annotations

from cairn.policy.model import Policy, Rule

_LENGTH = {"daily": "days", "weekly": "weeks", "monthly": "months", "yearly": "years"}
_SELECTIONS = ("days_of_week", "days_of_month", "weeks_of_month", "months_of_year")


def retention_lowered(old: Policy, new: Policy) -> list[str]:
    """What the change from `old` to `new` lowers, one line per rule ([] when nothing)."""
    out = []
    after: dict[str, Rule] = {r.name: r for r in new.retention.rules()}
    for rule in old.retention.rules():
        unit = _LENGTH[rule.name]
        now = after.get(rule.name)
        if now is None:
            out.append(f"retention.{rule.name} removed (was {getattr(rule, unit)} {unit})")
            continue
        was, becomes = getattr(rule, unit), getattr(now, unit)
        if becomes < was:
            out.append(f"retention.{rule.name}.{unit} {was} -> {becomes}")
        for name in _SELECTIONS:
            before = set(getattr(rule, name, ()))
            if before and not before <= set(getattr(now, name, ())):
                out.append(f"retention.{rule.name}.{name} keeps fewer days")
    return out
