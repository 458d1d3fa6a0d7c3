"""The machine's settings kept in CAIRN_HOME, and copied into its registration in the vault:
the backup policy.

    CAIRN_HOME/policy.json   the policy in its JSON form (policy_to_json)

The other machine setting, the throttle (CAIRN_HOME/throttle.json), is in `throttle.py`.
"""

from __future__ import annotations

import json
import os
from datetime import date, datetime

from cairn.core.errors import CairnError, UsageError
from cairn.engine import offline
from cairn.engine.home import Home, write_private
from cairn.engine.scope import item_conflicts
from cairn.fs.exclusions import Exclusions
from cairn.fs.timezone import machine_timezone
from cairn.policy import Policy, parse_policy, policy_from_dict, policy_from_json, policy_to_json
from cairn.vault.repository import Repository

POLICY_FILE = "policy.json"


def read_policy_file(text: str, today: date) -> Policy:
    policy = parse_policy(text, default_timezone=machine_timezone(), today=today)
    check_exclusions(policy)
    return policy


def policy_from_flags(data: dict[str, object], today: date) -> Policy:
    policy = policy_from_dict(data, default_timezone=machine_timezone(), today=today)
    check_exclusions(policy)
    return policy


def validate_policy(data: dict[str, object], today: date, *, allow_missing: bool = False) -> Policy:
    """The policy `policy set` would set from these tables (the policy file's shape), with its
    checks and its words: `UsageError` (`cairn.policy.problems.problem_of` names its field)."""
    policy = policy_from_flags(data, today)
    if not allow_missing:
        check_items(policy)
    return policy


def check_exclusions(policy: Policy) -> None:
    """A bad pattern is refused when the policy is set, not at 3 a.m. (UsageError names it)."""
    Exclusions(list(policy.exclude))


def exclusion_warnings(policy: Policy) -> list[str]:
    """One message for each item that an exclusion matches (itself or a folder above it): the
    item is backed up anyway (engine/scope.py), which the user should know when setting it."""
    items = [os.path.normpath(os.fsencode(item)) for item in policy.items]
    return [
        f"{os.fsdecode(item)}: {message}"
        for item, message in item_conflicts(Exclusions(list(policy.exclude)), items)
    ]


def check_items(policy: Policy) -> None:
    """Every item exists, or `UsageError` names those that do not (`policy set --allow-missing`
    accepts them: a removable drive not attached now)."""
    missing = [item for item in policy.items if not os.path.lexists(item)]
    if missing:
        raise UsageError(
            f"policy.items: {', '.join(missing)} does not exist; name an existing file or folder,"
            " or pass --allow-missing for a drive that is not attached now"
        )


def load_policy(home: Home) -> Policy | None:
    path = home.path / POLICY_FILE
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError:
        raise CairnError(f"{path} is damaged: set the policy again") from None
    try:
        return policy_from_json(doc)
    except UsageError as e:
        raise CairnError(f"{path} holds a policy this Cairn refuses ({e}): set it again") from None


def require_policy(home: Home) -> Policy:
    policy = load_policy(home)
    if policy is None:
        raise UsageError(
            "no backup policy is set: `cairn policy set --file policy.toml` (see docs/policy.md)"
        )
    return policy


def save_policy(home: Home, repo: Repository, policy: Policy, now: datetime) -> None:
    """Keep the policy in CAIRN_HOME, then in the machine's registration in the vault. The one
    entry point for setting a policy (the CLI and the console): an offline initial backup's
    staging folder is checked here (local, writable, apart from the items and the vault)."""
    offline.check_staging(policy, repo.store.location)
    doc = policy_to_json(policy)
    write_private(home.path / POLICY_FILE, json.dumps(doc, indent=1).encode() + b"\n")
    repo.write_registration({"policy": doc}, now)


def restore_policy(home: Home, doc: object) -> bool:
    """On registering again: bring back the policy kept in the vault's registration, when
    CAIRN_HOME has none (lost with the machine) and the kept one is one this Cairn accepts."""
    if not isinstance(doc, dict) or (home.path / POLICY_FILE).exists():
        return False
    try:
        policy = policy_from_json(doc)
    except (UsageError, KeyError, TypeError, ValueError, AttributeError):
        return False
    write_private(
        home.path / POLICY_FILE, json.dumps(policy_to_json(policy), indent=1).encode() + b"\n"
    )
    return True
