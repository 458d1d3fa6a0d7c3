"""Pre- and post-backup hooks in the policy (pure: the engine runs them, engine/hooks.py).

    [hooks]
    pre = ["pg_dump -f /srv/dump.sql app", { run = "sync", required = false, timeout = 30 }]
    post = ["rm -f /srv/dump.sql"]
    timeout = 300        # seconds, each hook (1 to 86400); default 300
    required = true      # a pre hook that fails fails the backup, no point written; default true

A hook is a shell command line (run by /bin/sh -c), or a table with `run` and its own `required`
and `timeout`. A required pre hook that fails (non-zero exit, or the timeout) fails the job with
no recovery point; an optional one is a warning and the backup goes on. A post hook runs after
the backup whatever its outcome (CAIRN_BACKUP_STATUS says which); its failure is a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from cairn.core.errors import UsageError

DEFAULT_TIMEOUT_S = 300
MAX_TIMEOUT_S = 86400
_KEYS = ("pre", "post", "timeout", "required")
_HOOK_KEYS = ("run", "required", "timeout")


@dataclass(frozen=True, slots=True)
class Hook:
    run: str
    required: bool = True
    timeout_s: int = DEFAULT_TIMEOUT_S


@dataclass(frozen=True, slots=True)
class Hooks:
    pre: tuple[Hook, ...] = ()
    post: tuple[Hook, ...] = ()
    timeout_s: int = DEFAULT_TIMEOUT_S
    required: bool = True

    def __bool__(self) -> bool:
        return bool(self.pre or self.post)


NO_HOOKS: Final = Hooks()


def _timeout(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{field}: expected a whole number of seconds, got {value!r}")
    if not 1 <= value <= MAX_TIMEOUT_S:
        raise UsageError(f"{field}: {value} is out of range; allowed: 1 to {MAX_TIMEOUT_S} seconds")
    return value


def _flag(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise UsageError(f"{field}: expected true or false, got {value!r}")
    return value


def _hook(value: object, field: str, required: bool, timeout: int) -> Hook:
    if isinstance(value, str):
        table: Mapping[str, object] = {"run": value}
    elif isinstance(value, Mapping):
        table = value
        unknown = [k for k in table if k not in _HOOK_KEYS]
        if unknown:
            raise UsageError(f"{field}: unknown key {unknown[0]}; allowed: {', '.join(_HOOK_KEYS)}")
    else:
        raise UsageError(f"{field}: a hook is a command line or a table with run, got {value!r}")
    run = table.get("run")
    if not isinstance(run, str) or not run.strip() or "\x00" in run:
        raise UsageError(f"{field}.run: give the command line to run")
    return Hook(
        run,
        _flag(table.get("required", required), f"{field}.required"),
        _timeout(table.get("timeout", timeout), f"{field}.timeout"),
    )


def hooks_from_table(table: object) -> Hooks:
    if not isinstance(table, Mapping):
        raise UsageError(f"[hooks]: expected a table, got {table!r}")
    unknown = [k for k in table if k not in _KEYS]
    if unknown:
        raise UsageError(f"[hooks]: unknown key hooks.{unknown[0]}; allowed: {', '.join(_KEYS)}")
    timeout = _timeout(table.get("timeout", DEFAULT_TIMEOUT_S), "hooks.timeout")
    required = _flag(table.get("required", True), "hooks.required")
    phases = {}
    for phase in ("pre", "post"):
        value = table.get(phase, [])
        if not isinstance(value, list):
            raise UsageError(f"hooks.{phase}: expected a list of hooks, got {value!r}")
        phases[phase] = tuple(
            _hook(v, f"hooks.{phase}[{i}]", required, timeout) for i, v in enumerate(value)
        )
    return Hooks(phases["pre"], phases["post"], timeout, required)


def hooks_to_json(hooks: Hooks) -> dict[str, object]:
    def one(h: Hook) -> dict[str, object]:
        return {"run": h.run, "required": h.required, "timeout": h.timeout_s}

    return {
        "pre": [one(h) for h in hooks.pre],
        "post": [one(h) for h in hooks.post],
        "timeout": hooks.timeout_s,
        "required": hooks.required,
    }
