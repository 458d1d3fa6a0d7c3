"""The policy file (TOML) and its JSON form, both ways.

    [policy]      items, exclude, timezone, initial_backup, start
    [schedule]    frequency, times, days, every_weeks
    [retention.daily] days   [retention.weekly] days_of_week, weeks
    [retention.monthly] days_of_month | weeks_of_month + days_of_week, months
    [retention.yearly]  months_of_year, days_of_month | weeks_of_month + days_of_week, years
    [offline]     staging, import_job      (only with initial_backup = "offline")
    [hooks]       pre, post, timeout, required (policy/hooks.py; written out only when present)
    [snapshot]    kind, required (policy/snapshot.py; written out only when a kind is set)

Names are as a user writes them: weekdays "mon".."sun", months "jan".."dec", weeks of month
"first".."fourth" and "last", days of month 1..28 and "last" (names are read case-insensitively).
Unknown keys are refused, naming them; so is a value of the wrong type. Defaults: `exclude` none,
`timezone` the caller's `default_timezone`, `initial_backup` "online", `start` the caller's
`today`; under a weekly schedule `retention.weekly.days_of_week` defaults to the scheduled days.
The JSON form (`policy_to_json`, `policy_from_json`) has the same shape, with every default
written out and `start` as an ISO date string.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import cast

from cairn.core.errors import UsageError
from cairn.policy.hooks import hooks_from_table, hooks_to_json
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
from cairn.policy.offline import OfflineSeeding
from cairn.policy.snapshot import snapshot_from_table, snapshot_to_json

_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_SECTIONS = ("policy", "schedule", "retention", "offline", "hooks", "snapshot")
_OFFLINE_KEYS = ("staging", "import_job")
_POLICY_KEYS = ("items", "exclude", "timezone", "initial_backup", "start")
_SCHEDULE_KEYS = ("frequency", "times", "days", "every_weeks")
_RULE_KEYS = {
    "daily": ("days",),
    "weekly": ("days_of_week", "weeks"),
    "monthly": ("days_of_month", "weeks_of_month", "days_of_week", "months"),
    "yearly": ("months_of_year", "days_of_month", "weeks_of_month", "days_of_week", "years"),
}

Table = Mapping[str, object]


def parse_policy(text: str, *, default_timezone: str, today: date) -> Policy:
    """Read a policy file; `UsageError` (exit 2) names what is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"policy file: not valid TOML: {e}") from None
    except RecursionError:
        raise UsageError(
            "policy file: not valid TOML: arrays or tables nested too deeply"
        ) from None
    return policy_from_dict(data, default_timezone=default_timezone, today=today)


def policy_from_dict(data: Table, *, default_timezone: str, today: date) -> Policy:
    """Build a policy from the policy file's tables (for `policy set` flags as for the file)."""
    _refuse_unknown(data, _SECTIONS, "")
    section = _table(data, "policy", "")
    _refuse_unknown(section, _POLICY_KEYS, "policy")
    schedule = _schedule(_table(data, "schedule", ""))
    retention = _retention(_table(data, "retention", ""), schedule)
    timezone = section.get("timezone", default_timezone)
    start = section.get("start", today)
    offline = None
    if "offline" in data:
        table = _table(data, "offline", "")
        _refuse_unknown(table, _OFFLINE_KEYS, "offline")
        offline = OfflineSeeding(
            staging=_string(_required(table, "staging", "offline"), "offline.staging"),
            import_job=_string(_required(table, "import_job", "offline"), "offline.import_job"),
        )
    return Policy(
        items=tuple(_strings(section, "items", "policy")),
        exclude=tuple(_strings(section, "exclude", "policy", required=False)),
        timezone=_string(timezone, "policy.timezone"),
        initial_backup=_string(section.get("initial_backup", "online"), "policy.initial_backup"),
        start=_date(start, "policy.start"),
        schedule=schedule,
        retention=retention,
        offline=offline,
        hooks=hooks_from_table(data.get("hooks", {})),
        snapshot=snapshot_from_table(data.get("snapshot", {})),
    )


def policy_from_json(data: Table) -> Policy:
    """Read the JSON form `policy_to_json` writes (a stored policy: nothing is defaulted)."""
    section = _table(data, "policy", "")
    for key in ("timezone", "start"):
        if key not in section:
            raise UsageError(f"policy.{key}: required")
    return policy_from_dict(data, default_timezone="", today=date.min)


def policy_to_json(policy: Policy) -> dict[str, object]:
    """The policy as `policy show --json` prints it: the file's shape, defaults written out."""
    schedule: dict[str, object] = {
        "frequency": policy.schedule.frequency,
        "times": [t.strftime("%H:%M") for t in policy.schedule.times],
    }
    if policy.schedule.frequency == "weekly":
        schedule["days"] = [WEEKDAYS[d] for d in policy.schedule.days]
        schedule["every_weeks"] = policy.schedule.every_weeks
    retention: dict[str, object] = {}
    r = policy.retention
    if r.daily is not None:
        retention["daily"] = {"days": r.daily.days}
    if r.weekly is not None:
        retention["weekly"] = {
            "days_of_week": [WEEKDAYS[d] for d in r.weekly.days_of_week],
            "weeks": r.weekly.weeks,
        }
    if r.monthly is not None:
        retention["monthly"] = _days_json(r.monthly) | {"months": r.monthly.months}
    if r.yearly is not None:
        months = {"months_of_year": [MONTHS[m - 1] for m in r.yearly.months_of_year]}
        retention["yearly"] = months | _days_json(r.yearly) | {"years": r.yearly.years}
    hooks = {"hooks": hooks_to_json(policy.hooks)} if policy.hooks else {}
    snapshot = {"snapshot": snapshot_to_json(policy.snapshot)} if policy.snapshot else {}
    doc: dict[str, object] = {
        "policy": {
            "items": list(policy.items),
            "exclude": list(policy.exclude),
            "timezone": policy.timezone,
            "initial_backup": policy.initial_backup,
            "start": policy.start.isoformat(),
        },
        "schedule": schedule,
        "retention": retention,
        **hooks,  # only when there are hooks: a policy without is stored as before
        **snapshot,
    }
    if policy.offline is not None:
        doc["offline"] = {
            "staging": policy.offline.staging,
            "import_job": policy.offline.import_job,
        }
    return doc


def policy_to_toml(policy: Policy) -> str:
    """The policy file for `policy`; `parse_policy` reads it back to an equal policy."""
    data = policy_to_json(policy)
    lines: list[str] = []
    for name in _SECTIONS:
        if name not in data:
            continue
        section = cast(dict[str, object], data[name])
        if name == "retention":
            for rule, table in section.items():
                lines += ["", f"[retention.{rule}]"]
                lines += _toml_pairs(cast(dict[str, object], table))
        else:
            lines += ["", f"[{name}]"]
            lines += _toml_pairs(section, dates=("start",))
    return "\n".join(lines[1:]) + "\n"


def _days_json(rule: MonthlyRule | YearlyRule) -> dict[str, object]:
    if rule.days_of_month:
        return {"days_of_month": ["last" if d == LAST else d for d in rule.days_of_month]}
    return {
        "weeks_of_month": [_week_name(w) for w in rule.weeks_of_month],
        "days_of_week": [WEEKDAYS[d] for d in rule.days_of_week],
    }


def _week_name(week: int) -> str:
    return "last" if week == LAST else WEEKS_OF_MONTH[week - 1]


def _toml_pairs(table: dict[str, object], dates: tuple[str, ...] = ()) -> list[str]:
    return [
        f"{key} = {value if key in dates else _toml_value(value)}" for key, value in table.items()
    ]


def _toml_value(value: object) -> str:
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {value!r}")


def _toml_string(text: str) -> str:
    """A TOML basic string: quote, backslash and control characters escaped."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char < " " or char == "\x7f":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _schedule(table: Table) -> Schedule:
    _refuse_unknown(table, _SCHEDULE_KEYS, "schedule")
    frequency = _string(_required(table, "frequency", "schedule"), "schedule.frequency")
    if frequency not in ("daily", "weekly"):
        raise UsageError(
            f"schedule.frequency: {frequency!r} is not a frequency; allowed: daily, weekly"
        )
    times = tuple(_time(t) for t in _strings(table, "times", "schedule"))
    if frequency == "daily":
        for key in ("days", "every_weeks"):
            if key in table:
                raise UsageError(f"schedule.{key}: only a weekly schedule has {key}")
        return Schedule("daily", times)
    days = _names(table, "days", "schedule", WEEKDAYS)
    every = _integer(table.get("every_weeks", 1), "schedule.every_weeks")
    return Schedule("weekly", times, days=tuple(days), every_weeks=every)


def _retention(table: Table, schedule: Schedule) -> Retention:
    _refuse_unknown(table, tuple(_RULE_KEYS), "retention")
    rules: dict[str, object] = {}
    for name, keys in _RULE_KEYS.items():
        if name not in table:
            continue
        path = f"retention.{name}"
        rule = _table(table, name, "retention")
        _refuse_unknown(rule, keys, path)
        if name == "daily":
            rules[name] = DailyRule(_integer(_required(rule, "days", path), f"{path}.days"))
        elif name == "weekly":
            if "days_of_week" in rule or schedule.frequency == "daily":
                days = tuple(_names(rule, "days_of_week", path, WEEKDAYS))
            else:
                days = schedule.days
            weeks = _integer(_required(rule, "weeks", path), f"{path}.weeks")
            rules[name] = WeeklyRule(days, weeks)
        elif name == "monthly":
            months = _integer(_required(rule, "months", path), f"{path}.months")
            rules[name] = MonthlyRule(months, *_day_selection(rule, path))
        else:
            years = _integer(_required(rule, "years", path), f"{path}.years")
            months_of_year = tuple(m + 1 for m in _names(rule, "months_of_year", path, MONTHS))
            rules[name] = YearlyRule(years, months_of_year, *_day_selection(rule, path))
    return Retention(**rules)  # type: ignore[arg-type]  # each built by its own type above


def _day_selection(
    rule: Table, path: str
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    days: list[int] = []
    if "days_of_month" in rule:
        for value in _list(rule["days_of_month"], f"{path}.days_of_month"):
            if isinstance(value, str) and value.lower() == "last":
                days.append(LAST)
            elif isinstance(value, int) and not isinstance(value, bool):
                days.append(value)
            else:
                raise UsageError(
                    f'{path}.days_of_month: {value!r} is not a day; allowed: 1 to 28 or "last"'
                )
    weeks = [
        LAST if i == len(WEEKS_OF_MONTH) else i + 1
        for i in _names(rule, "weeks_of_month", path, (*WEEKS_OF_MONTH, "last"), required=False)
    ]
    weekdays = _names(rule, "days_of_week", path, WEEKDAYS, required=False)
    return tuple(days), tuple(weeks), tuple(weekdays)


def _refuse_unknown(table: Table, allowed: tuple[str, ...], path: str) -> None:
    unknown = [key for key in table if key not in allowed]
    if unknown:
        where = f"[{path}]" if path else "the policy file"
        names = ", ".join(f"{path}.{key}" if path else key for key in unknown)
        raise UsageError(
            f"{where}: unknown key{'s' if len(unknown) > 1 else ''} {names}; "
            f"allowed: {', '.join(allowed)}"
        )


def _required(table: Table, key: str, path: str) -> object:
    if key not in table:
        raise UsageError(f"{path}.{key}: required")
    return table[key]


def _table(table: Table, key: str, path: str) -> Table:
    field = f"{path}.{key}" if path else key
    value = table.get(key)
    if value is None:
        raise UsageError(f"[{field}]: required")
    if not isinstance(value, Mapping):
        raise UsageError(f"{field}: expected a table, got {_shown(value)}")
    return cast(Table, value)


def _list(value: object, field: str) -> list[object]:
    if not isinstance(value, list):
        raise UsageError(f"{field}: expected a list, got {_shown(value)}")
    return value


def _strings(table: Table, key: str, path: str, *, required: bool = True) -> list[str]:
    field = f"{path}.{key}"
    if key not in table and not required:
        return []
    return [_string(v, field) for v in _list(_required(table, key, path), field)]


def _names(
    table: Table, key: str, path: str, names: tuple[str, ...], *, required: bool = True
) -> list[int]:
    """The positions in `names` of the names listed under `key` (case-insensitive)."""
    field = f"{path}.{key}"
    positions = []
    for value in _strings(table, key, path, required=required):
        if value.lower() not in names:
            raise UsageError(f"{field}: {value!r} is not allowed; allowed: {', '.join(names)}")
        positions.append(names.index(value.lower()))
    return positions


def _string(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise UsageError(f"{field}: expected a string, got {_shown(value)}")
    return value


def _integer(value: object, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise UsageError(f"{field}: expected a whole number, got {_shown(value)}")
    return value


def _time(text: str) -> time:
    match = _TIME.fullmatch(text)
    if match is None:
        raise UsageError(
            f"schedule.times: {text!r} is not a time of day; use HH:MM, 00:00 to 23:59"
        )
    return time(int(match[1]), int(match[2]))


def _date(value: object, field: str) -> date:
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            pass
    if not isinstance(value, date) or isinstance(value, datetime):
        raise UsageError(f"{field}: {_shown(value)} is not a date like 2026-12-07")
    return value


def _shown(value: object) -> str:
    if isinstance(value, (date, time)):
        return value.isoformat()
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
