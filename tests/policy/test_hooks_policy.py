"""The [hooks] table of the policy file (policy/hooks.py)."""

from __future__ import annotations

from datetime import date

import pytest

from cairn.core.errors import UsageError
from cairn.policy import Policy, parse_policy, policy_from_json, policy_to_json, policy_to_toml
from cairn.policy.hooks import Hook

BASE = """
[policy]
items = ["/srv"]
timezone = "UTC"
[schedule]
frequency = "daily"
times = ["21:00"]
[retention.daily]
days = 7
"""


def parse(hooks: str) -> Policy:
    return parse_policy(BASE + hooks, default_timezone="UTC", today=date(2026, 3, 1))


def test_hooks_as_command_lines_and_tables_with_defaults() -> None:
    p = parse(
        '[hooks]\npre = ["pg_dump -f /srv/d.sql", { run = "sync", required = false, timeout = 5 }]'
        '\npost = ["rm /srv/d.sql"]\ntimeout = 60\n'
    )
    assert p.hooks.pre == (Hook("pg_dump -f /srv/d.sql", True, 60), Hook("sync", False, 5))
    assert p.hooks.post == (Hook("rm /srv/d.sql", True, 60),)
    again = parse_policy(policy_to_toml(p), default_timezone="UTC", today=date(2026, 3, 1))
    assert again == p
    assert policy_from_json(policy_to_json(p)) == p


def test_a_policy_without_hooks_is_stored_as_before() -> None:
    p = parse("")
    assert not p.hooks and "hooks" not in policy_to_json(p)
    assert "[hooks]" not in policy_to_toml(p)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[hooks]\nbefore = ["x"]\n', "unknown key hooks.before"),
        ("[hooks]\npre = [3]\n", "hooks.pre[0]: a hook is a command line"),
        ('[hooks]\npre = [{ run = "x", when = 1 }]\n', "hooks.pre[0]: unknown key when"),
        ('[hooks]\npre = [""]\n', "hooks.pre[0].run: give the command line"),
        ('[hooks]\npre = ["x"]\ntimeout = 0\n', "hooks.timeout: 0 is out of range"),
        ('[hooks]\npre = ["x"]\nrequired = "yes"\n', "hooks.required: expected true or false"),
    ],
)
def test_bad_hooks_are_refused_naming_the_field(table: str, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse(table)
