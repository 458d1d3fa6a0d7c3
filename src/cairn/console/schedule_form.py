"""The Schedule Backup wizard's form: its fields, which page of the wizard shows each, and the
translation both ways between the fields and the policy file's tables (the shape `policy set`
reads). No rule lives here: the tables go to `engine.settings.validate_policy`, which refuses with
`policy set`'s own words, and `policy.problems.problem_of` says which field a refusal is about.

Every page posts every field (the other pages' as hidden inputs), so going back and forth, or an
error, loses nothing typed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cairn.console.forms import Form
from cairn.policy import LAST, MONTHS, WEEKDAYS, WEEKS_OF_MONTH, Policy, policy_to_json

STEPS = ("items", "exclusions", "schedule", "retention", "initial", "confirm")
STEP_TITLES = {
    "items": "Select items to back up",
    "exclusions": "Exclusion settings",
    "schedule": "Backup schedule",
    "retention": "Retention policy",
    "initial": "Initial backup type",
    "confirm": "Confirmation",
}
WEEKS = (*WEEKS_OF_MONTH, "last")
DAYS_OF_MONTH = (*[str(d) for d in range(1, 29)], "last")

# The fields each page shows; a page posts the others as hidden inputs.
FIELDS: dict[str, tuple[str, ...]] = {
    "items": ("item", "browse", "allow_missing"),
    "exclusions": ("exclude",),
    "schedule": ("frequency", "time1", "time2", "time3", "days", "every_weeks", "timezone"),
    "retention": (
        "keep_daily", "daily_days",
        "keep_weekly", "weekly_days", "weekly_weeks",
        "keep_monthly", "monthly_by", "monthly_dom", "monthly_wom", "monthly_dow", "monthly_months",
        "keep_yearly", "yearly_moy", "yearly_by", "yearly_dom", "yearly_wom", "yearly_dow",
        "yearly_years",
    ),
    "initial": ("initial", "staging", "import_job"),
    "confirm": (),
}  # fmt: skip
ALL_FIELDS = tuple(name for names in FIELDS.values() for name in names)

# A refusal's field (as the policy file spells it) -> the wizard page that shows it.
_FIELD_STEPS = (
    ("policy.items", "items"),
    ("policy.exclude", "exclusions"),
    ("policy.timezone", "schedule"),
    ("policy.start", "schedule"),
    ("schedule", "schedule"),
    ("retention", "retention"),
    ("policy.initial_backup", "initial"),
    ("offline", "initial"),
)


@dataclass
class Values:
    """The wizard's values: each field's posted strings."""

    fields: dict[str, list[str]]

    def get(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[0] if values else default

    def getlist(self, name: str) -> list[str]:
        return list(self.fields.get(name, []))

    def on(self, name: str) -> bool:
        return self.get(name) == "on"

    def hidden(self, step: str) -> list[tuple[str, str]]:
        """(name, value) of every field the page `step` does not show."""
        shown = set(FIELDS.get(step, ()))
        return [
            (name, value)
            for name in ALL_FIELDS
            if name not in shown
            for value in self.fields.get(name, [])
        ]

    @classmethod
    def from_form(cls, form: Form) -> Values:
        return cls({name: form.getlist(name) for name in ALL_FIELDS if name in form})


def step_of(field: str | None, current: str) -> str:
    """The page that shows a refusal about `field` (the current page when it names none)."""
    if field is not None:
        for prefix, step in _FIELD_STEPS:
            if field == prefix or field.startswith(prefix + "."):
                return step
    return current


def _number(text: str) -> object:
    """An integer when the text is one; else the text, for the policy's own refusal."""
    stripped = text.strip()
    if stripped.lstrip("-").isdigit():
        return int(stripped)
    return stripped


def _days_of_month(values: list[str]) -> list[object]:
    return ["last" if v == "last" else _number(v) for v in values]


def to_tables(v: Values) -> dict[str, object]:
    """The policy file's tables from the wizard's values (validated by the engine, not here)."""
    section: dict[str, object] = {
        "items": v.getlist("item"),
        "exclude": [line.strip() for line in v.get("exclude").splitlines() if line.strip()],
        "initial_backup": v.get("initial", "online"),
    }
    if v.get("timezone").strip():
        section["timezone"] = v.get("timezone").strip()
    frequency = v.get("frequency", "daily")
    times = [v.get(f"time{i}").strip() for i in (1, 2, 3)]
    schedule: dict[str, object] = {"frequency": frequency, "times": [t for t in times if t]}
    if frequency == "weekly":
        schedule["days"] = v.getlist("days")
        schedule["every_weeks"] = _number(v.get("every_weeks", "1"))
    retention: dict[str, object] = {}
    if v.on("keep_daily"):
        retention["daily"] = {"days": _number(v.get("daily_days"))}
    if v.on("keep_weekly"):
        weekly: dict[str, object] = {"weeks": _number(v.get("weekly_weeks"))}
        if frequency == "daily":  # a weekly schedule keeps its own days (MARS shows them fixed)
            weekly["days_of_week"] = v.getlist("weekly_days")
        retention["weekly"] = weekly
    if v.on("keep_monthly"):
        monthly = _day_choice(v, "monthly")
        monthly["months"] = _number(v.get("monthly_months"))
        retention["monthly"] = monthly
    if v.on("keep_yearly"):
        yearly: dict[str, object] = {"months_of_year": v.getlist("yearly_moy")}
        yearly |= _day_choice(v, "yearly")
        yearly["years"] = _number(v.get("yearly_years"))
        retention["yearly"] = yearly
    tables: dict[str, object] = {"policy": section, "schedule": schedule, "retention": retention}
    if section["initial_backup"] == "offline":
        tables["offline"] = {
            "staging": v.get("staging").strip(),
            "import_job": v.get("import_job").strip(),
        }
    return tables


def _day_choice(v: Values, rule: str) -> dict[str, object]:
    if v.get(f"{rule}_by", "week") == "day":
        return {"days_of_month": _days_of_month(v.getlist(f"{rule}_dom"))}
    return {"weeks_of_month": v.getlist(f"{rule}_wom"), "days_of_week": v.getlist(f"{rule}_dow")}


def from_policy(policy: Policy) -> Values:
    """The wizard's values for a policy (the one in force, or the default one)."""
    doc = policy_to_json(policy)
    section, schedule, retention = (doc["policy"], doc["schedule"], doc["retention"])
    assert isinstance(section, dict) and isinstance(schedule, dict) and isinstance(retention, dict)
    fields: dict[str, list[str]] = {
        "item": list(section["items"]),
        "exclude": ["\n".join(section["exclude"])],
        "timezone": [section["timezone"]],
        "initial": [section["initial_backup"]],
        "frequency": [schedule["frequency"]],
        "days": list(schedule.get("days", [])),
        "every_weeks": [str(schedule.get("every_weeks", 1))],
        "browse": [_folder_of(list(section["items"]))],
    }
    offline = doc.get("offline")  # issue 11's [offline] table, when the policy has one
    if isinstance(offline, dict):
        fields["staging"] = [str(offline.get("staging", ""))]
        fields["import_job"] = [str(offline.get("import_job", ""))]
    for i, t in enumerate(schedule["times"], start=1):
        fields[f"time{i}"] = [t]
    # Values for rules not in the policy still fill their boxes (cleared), as MARS shows them.
    fields |= {
        "daily_days": ["30"], "weekly_days": ["sun"], "weekly_weeks": ["12"],
        "monthly_by": ["week"], "monthly_wom": ["last"], "monthly_dow": ["sat"],
        "monthly_dom": ["1"], "monthly_months": ["12"],
        "yearly_moy": ["mar"], "yearly_by": ["week"], "yearly_wom": ["last"],
        "yearly_dow": ["sat"], "yearly_dom": ["1"], "yearly_years": ["10"],
    }  # fmt: skip
    r = policy.retention
    if r.daily is not None:
        fields |= {"keep_daily": ["on"], "daily_days": [str(r.daily.days)]}
    if r.weekly is not None:
        fields |= {
            "keep_weekly": ["on"],
            "weekly_days": [WEEKDAYS[d] for d in r.weekly.days_of_week],
            "weekly_weeks": [str(r.weekly.weeks)],
        }
    if r.monthly is not None:
        fields["keep_monthly"] = ["on"]
        fields["monthly_months"] = [str(r.monthly.months)]
        fields |= _day_fields("monthly", r.monthly.days_of_month, r.monthly.weeks_of_month,
                              r.monthly.days_of_week)  # fmt: skip
    if r.yearly is not None:
        fields["keep_yearly"] = ["on"]
        fields["yearly_years"] = [str(r.yearly.years)]
        fields["yearly_moy"] = [MONTHS[m - 1] for m in r.yearly.months_of_year]
        fields |= _day_fields("yearly", r.yearly.days_of_month, r.yearly.weeks_of_month,
                              r.yearly.days_of_week)  # fmt: skip
    return Values(fields)


def _day_fields(
    rule: str, dom: tuple[int, ...], wom: tuple[int, ...], dow: tuple[int, ...]
) -> dict[str, list[str]]:
    if dom:
        return {
            f"{rule}_by": ["day"],
            f"{rule}_dom": ["last" if d == LAST else str(d) for d in dom],
        }
    return {
        f"{rule}_by": ["week"],
        f"{rule}_wom": ["last" if w == LAST else WEEKS_OF_MONTH[w - 1] for w in wom],
        f"{rule}_dow": [WEEKDAYS[d] for d in dow],
    }


def _folder_of(items: list[str]) -> str:
    return os.path.dirname(items[0]) if items else "/"
