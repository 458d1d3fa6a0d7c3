"""The policy layer: pure rules for what is backed up, when, and for how long.

No I/O and no clock: every time (`now`, `after`, `today`) is passed in, and every datetime is
timezone-aware. It imports only `cairn.core` and the standard library. docs/policy.md describes
the semantics with worked examples.

- `model`: `Policy`, `Schedule`, `Retention`, `DailyRule`, `WeeklyRule`, `MonthlyRule`,
  `YearlyRule` (frozen, validated when built: `UsageError` names field, value and range).
- `parsing`: `parse_policy` (the TOML file), `policy_from_dict`, `policy_to_toml`,
  `policy_to_json`, `policy_from_json`.
- `schedule`: `Slot`, `Run`, `next_runs`, `runs_after`, `runs_between`, `iter_runs`, `runs_on`.
- `retention`: `PointFacts`, `expiry`, `rules_matching`, `rules_keeping`, `keeping_until`, `alive`, `expired`,
  `rules_for_day`.
- `substitution`: `SlotOutcome`, `substitute_for` (which failed slot Back Up Now replaces).
- `simulation`: `simulate`, `SimulationResult`, `SimulatedPoint`.
- `preview`: `retention_preview` (points alive over the next years by the rule keeping each, for
  the Schedule Backup wizard's chart), `RetentionPreview`, `PreviewSample`.
- `limits`: the ranges, `MAX_POINTS`, `worst_case_points`.
- `wallclock`: `resolve` (local time to instant across DST), `add_months`, `end_of_day`.
- `throttle`: `Throttle` (work hours, work days, two rates), `parse_rate`, `throttle_from_flags`,
  `throttle_to_json`, `throttle_from_json`, `rate_at`; `Throttle.next_change` (docs/throttle.md).
"""

from __future__ import annotations

from cairn.policy.limits import MAX_POINTS, worst_case_points
from cairn.policy.model import (
    LAST,
    MONTHS,
    WEEKDAYS,
    WEEKS_OF_MONTH,
    DailyRule,
    MonthlyRule,
    Policy,
    Retention,
    Schedule,
    WeeklyRule,
    YearlyRule,
)
from cairn.policy.parsing import (
    parse_policy,
    policy_from_dict,
    policy_from_json,
    policy_to_json,
    policy_to_toml,
)
from cairn.policy.preview import PreviewSample, RetentionPreview, retention_preview
from cairn.policy.retention import (
    PointFacts,
    Trigger,
    alive,
    expired,
    expiry,
    keeping_until,
    rules_for_day,
    rules_keeping,
    rules_matching,
)
from cairn.policy.schedule import Run, Slot, iter_runs, next_runs, runs_after, runs_between, runs_on
from cairn.policy.simulation import SimulatedPoint, SimulationResult, simulate
from cairn.policy.substitution import Outcome, SlotOutcome, substitute_for
from cairn.policy.throttle import (
    MAX_RATE_BPS,
    MIN_RATE_BPS,
    Throttle,
    format_work_days,
    format_work_hours,
    parse_rate,
    rate_at,
    throttle_from_flags,
    throttle_from_json,
    throttle_to_json,
)
from cairn.policy.wallclock import resolve

__all__ = [
    "LAST",
    "MAX_POINTS",
    "MAX_RATE_BPS",
    "MIN_RATE_BPS",
    "MONTHS",
    "WEEKDAYS",
    "WEEKS_OF_MONTH",
    "DailyRule",
    "MonthlyRule",
    "Outcome",
    "PointFacts",
    "Policy",
    "PreviewSample",
    "Retention",
    "RetentionPreview",
    "Run",
    "Schedule",
    "SimulatedPoint",
    "SimulationResult",
    "Slot",
    "SlotOutcome",
    "Throttle",
    "Trigger",
    "WeeklyRule",
    "YearlyRule",
    "alive",
    "expired",
    "expiry",
    "format_work_days",
    "format_work_hours",
    "iter_runs",
    "keeping_until",
    "next_runs",
    "parse_policy",
    "parse_rate",
    "policy_from_dict",
    "policy_from_json",
    "policy_to_json",
    "policy_to_toml",
    "rate_at",
    "resolve",
    "retention_preview",
    "rules_for_day",
    "rules_keeping",
    "rules_matching",
    "runs_after",
    "runs_between",
    "runs_on",
    "simulate",
    "substitute_for",
    "throttle_from_flags",
    "throttle_from_json",
    "throttle_to_json",
    "worst_case_points",
]
