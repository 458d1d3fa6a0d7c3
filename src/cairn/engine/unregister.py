"""`cairn unregister`: forget this machine's registration, key and credentials in CAIRN_HOME, and
leave the vault untouched, so a later `cairn register` with the same machine name and passphrase
(after a reinstall, say) goes on with the same store.

Removed: `registration.json`, `keys/<vault id>.*.key`, `credentials/<vault id>.json`, the alert
settings (`alerts.json`, which may hold an SMTP password or a webhook token) and their queue,
and `protection.json` (the vault keeps the guard state). Kept: the policy, the throttle, the job
history and the record of seen points (none of them a secret). Refused while an agent runs for
this CAIRN_HOME (exit 11), and while CAIRN_HOME holds the passphrase a first start made, unless
`forget_passphrase` (it may be the only copy: without it the backups cannot be read).
"""

from __future__ import annotations

import errno
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

from cairn.core.errors import CairnError, Locked, UsageError
from cairn.engine.home import Home

AGENT_LOCK = "agent.lock"  # held by a running agent (agent/service.py)
FIRST_START_PASSPHRASE = "passphrase"  # written by a first start (agent/firststart.py)


@dataclass(frozen=True, slots=True)
class Unregistered:
    machine: str
    vault: str
    removed: list[str]


def _agent_running(home: Home) -> bool:
    path = home.path / AGENT_LOCK
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        return e.errno in (errno.EAGAIN, errno.EACCES)
    finally:
        os.close(fd)  # releases it if taken
    return False


def unregister(home: Home, *, forget_passphrase: bool = False) -> Unregistered:
    reg = home.registration()  # not registered: exit 10
    if _agent_running(home):
        raise Locked(f"an agent runs for CAIRN_HOME {home.path}: stop it first, then unregister")
    kept_passphrase = home.path / FIRST_START_PASSPHRASE
    if kept_passphrase.exists() and not forget_passphrase:
        raise UsageError(
            f"{kept_passphrase} holds machine {reg.machine!r}'s passphrase, made at first start:"
            " keep a copy away from this machine (without it the backups cannot be read), then"
            " run `cairn unregister --forget-passphrase`"
        )
    paths: list[Path] = [
        *sorted((home.path / "keys").glob(f"{reg.vault_id}.*.key")),
        home.credentials_file(reg.vault_id),
        home.path / "alerts.json",
        home.path / "alerts-queue.json",
        home.path / "protection.json",
    ]
    if forget_passphrase:
        paths.append(kept_passphrase)
    removed = []
    for path in paths:
        try:
            path.unlink()
            removed.append(str(path))
        except FileNotFoundError:
            continue
        except OSError as e:
            raise CairnError(
                f"cannot remove {path}: {e.strerror}; nothing more was removed"
            ) from None
    # The registration last: until it goes, the machine still counts as registered here.
    home.registration_file.unlink()
    removed.append(str(home.registration_file))
    return Unregistered(reg.machine, reg.vault, removed)
