"""A first start with nothing registered: a local vault under CAIRN_HOME, a generated passphrase
(shown once, kept in CAIRN_HOME/passphrase with mode 0600) and the default policy of DESIGN.md:

    the user's home folder, without caches (.cache, node_modules, __pycache__, *.tmp) and without
    CAIRN_HOME itself; daily at 21:00 kept 30 days; Sundays' kept 12 weeks.

So a newcomer sees scheduled and on-demand backups work before choosing a vault of their own.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from cairn.core.clock import Clock
from cairn.core.errors import NotRegistered
from cairn.engine import settings
from cairn.engine.home import Home, write_private
from cairn.engine.session import create_vault, open_repository, register
from cairn.fs.timezone import machine_timezone
from cairn.policy import Policy
from cairn.storage.location import open_store
from cairn.vault.vault import Vault

PASSPHRASE_FILE = "passphrase"
VAULT_DIR = "vault"
CACHES = (".cache", "node_modules", "__pycache__", "*.tmp")
_GLOB = set("*?[]\\!")


@dataclass(frozen=True, slots=True)
class FirstStart:
    vault: str
    machine: str
    passphrase: str
    passphrase_file: Path
    policy: Policy


def default_policy(home_folder: Path, cairn_home: Path, clock: Clock) -> Policy:
    excludes = list(CACHES)
    inside = str(cairn_home.resolve())
    if inside.startswith(str(home_folder.resolve()) + "/") and not _GLOB & set(inside):
        excludes.append(inside)  # never back the vault up into itself
    data: dict[str, object] = {
        "policy": {"items": [str(home_folder)], "exclude": excludes},
        "schedule": {"frequency": "daily", "times": ["21:00"]},
        "retention": {
            "daily": {"days": 30},
            "weekly": {"days_of_week": ["sun"], "weeks": 12},
        },
    }
    today = clock.now().astimezone(ZoneInfo(machine_timezone())).date()
    return settings.policy_from_flags(data, today)


def first_start(home: Home, clock: Clock, home_folder: Path | None = None) -> FirstStart | None:
    """Set everything up if this CAIRN_HOME has no registration; None if it has one."""
    try:
        home.registration()
        return None
    except NotRegistered:
        pass
    home.path.mkdir(parents=True, exist_ok=True, mode=0o700)
    location = str((home.path / VAULT_DIR).resolve())
    secret_file = home.path / PASSPHRASE_FILE
    if secret_file.exists():
        # A first start that stopped half-way: go on with the passphrase it made.
        passphrase = secret_file.read_text().strip()
    else:
        passphrase = secrets.token_urlsafe(24)
        write_private(secret_file, passphrase.encode() + b"\n")
    if not (home.path / VAULT_DIR / "vault.json").exists():
        create_vault(location, clock)
    else:
        Vault(open_store(location), clock).info()
    result = register(home, location, clock, passphrase=passphrase)
    folder = home_folder or Path(os.path.expanduser("~"))
    policy = default_policy(folder, home.path, clock)
    repo = open_repository(home, clock)
    settings.save_policy(home, repo, policy, clock.now())
    return FirstStart(location, result.machine, passphrase, secret_file, policy)
