"""CAIRN_HOME: this machine's registration and its unwrapped master key (mode 0600), so scheduled
backups run unattended, as MARS's do.

    CAIRN_HOME/registration.json   {"vault": LOCATION, "vault_id": ..., "machine": NAME, "registered": ISO}
    CAIRN_HOME/keys/<vault id>.<machine>.key   the master key, hex (0600)
"""

from __future__ import annotations

import errno
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cairn.codec.keys import MasterKey
from cairn.core.errors import CairnError, NoSpace, NotRegistered


def default_home() -> Path:
    env = os.environ.get("CAIRN_HOME")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "cairn"


@dataclass(frozen=True, slots=True)
class Registration:
    vault: str
    vault_id: str
    machine: str
    registered: str


def write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only, atomically (temp + fsync + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise NoSpace(f"CAIRN_HOME ({path.parent}) is full: free space there") from None
        raise CairnError(f"cannot write {path}: {e.strerror}") from None


class Home:
    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def registration_file(self) -> Path:
        return self.path / "registration.json"

    def key_file(self, vault_id: str, machine: str) -> Path:
        return self.path / "keys" / f"{vault_id}.{machine}.key"

    def registration(self) -> Registration:
        try:
            doc = json.loads(self.registration_file.read_text())
            return Registration(
                str(doc["vault"]), str(doc["vault_id"]), str(doc["machine"]), str(doc["registered"])
            )
        except FileNotFoundError:
            raise NotRegistered(
                f"this machine is not registered (no {self.registration_file}):"
                " run `cairn vault create LOCATION` and `cairn register LOCATION`"
            ) from None
        except (KeyError, TypeError, ValueError):
            raise CairnError(f"{self.registration_file} is damaged: register again") from None

    def save(self, reg: Registration, key: MasterKey) -> None:
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private(self.key_file(reg.vault_id, reg.machine), key.secret.hex().encode() + b"\n")
        doc = {
            "vault": reg.vault,
            "vault_id": reg.vault_id,
            "machine": reg.machine,
            "registered": reg.registered,
        }
        write_private(self.registration_file, json.dumps(doc, indent=1).encode() + b"\n")

    def stored_key(self, vault_id: str, machine: str) -> MasterKey | None:
        try:
            text = self.key_file(vault_id, machine).read_text().strip()
            return MasterKey(bytes.fromhex(text))
        except FileNotFoundError:
            return None
        except ValueError:
            raise CairnError(
                f"{self.key_file(vault_id, machine)} is damaged: register again"
            ) from None
