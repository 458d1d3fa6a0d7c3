"""CAIRN_HOME: this machine's registration and its unwrapped master key (mode 0600), so scheduled
backups run unattended, as MARS's do.

    CAIRN_HOME/registration.json   {"vault": LOCATION, "vault_id": ..., "machine": NAME, "registered": ISO}
    CAIRN_HOME/keys/<vault id>.<machine>.key   {"master_key": hex, "passphrase_check": hex} (0600)
    CAIRN_HOME/credentials/<vault id>.json     the vault credentials (engine/credentials.py), 0600:
                                               the backend's secrets, for unattended runs

The secrets live in their own file rather than in registration.json, which says where the vault is
and may be shown or copied; both are written 0600.

The passphrase check is an HMAC of the passphrase under a key derived from the master key: it lets
a given passphrase be checked without the slow KDF, and reveals nothing the master key beside it
does not already give.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cairn.codec.keys import MasterKey
from cairn.core.errors import CairnError, NoSpace, NotRegistered, UsageError
from cairn.engine import crashpoint
from cairn.engine.credentials import VaultCredentials


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
    """Write a file of CAIRN_HOME readable by its owner only, whole or not at all.

    Every file Cairn keeps in CAIRN_HOME is written here: a temp file in the same folder (mode
    0600), every byte written (a short write is continued, never ignored), fsync, rename over the
    old file, fsync of the folder. A full disk (ENOSPC, EDQUOT) is `NoSpace` naming CAIRN_HOME;
    on any failure the temp file is removed and the old file is left as it was.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as e:
        raise _home_error(path, e) from None
    _remove_leftovers(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise _home_error(path, e) from None
    with contextlib.suppress(OSError):
        dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    crashpoint.wrote()


def _remove_leftovers(path: Path) -> None:
    """Temp files of writes of this file that a killed process never finished (its pid is gone)."""
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        pid = tmp.name[len(path.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                tmp.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _home_error(path: Path, e: OSError) -> CairnError:
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return NoSpace(
            f"CAIRN_HOME ({path.parent}) is full: {path.name} was not written (the old one is"
            " kept); free space there and try again"
        )
    return CairnError(f"cannot write {path} in CAIRN_HOME: {e.strerror}")


class Home:
    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def registration_file(self) -> Path:
        return self.path / "registration.json"

    def key_file(self, vault_id: str, machine: str) -> Path:
        return self.path / "keys" / f"{vault_id}.{machine}.key"

    def credentials_file(self, vault_id: str) -> Path:
        return self.path / "credentials" / f"{vault_id}.json"

    def save_credentials(self, creds: VaultCredentials) -> None:
        """Keep the vault's secrets for unattended runs (0600); none to keep removes old ones."""
        path = self.credentials_file(creds.vault_id)
        if creds.credentials:
            write_private(path, creds.encode())
            return
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as e:
            raise CairnError(f"cannot remove {path}: {e.strerror}") from None

    def credentials(self, vault_id: str) -> VaultCredentials | None:
        """The vault credentials kept at registration, if there were any."""
        path = self.credentials_file(vault_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise CairnError(f"cannot read {path}: {e.strerror}") from None
        try:
            return VaultCredentials.decode(data, str(path))
        except UsageError:
            raise CairnError(f"{path} is damaged: register again") from None

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

    def save(self, reg: Registration, key: MasterKey, passphrase: str | None = None) -> None:
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.save_key(reg.vault_id, reg.machine, key, passphrase)
        doc = {
            "vault": reg.vault,
            "vault_id": reg.vault_id,
            "machine": reg.machine,
            "registered": reg.registered,
        }
        write_private(self.registration_file, json.dumps(doc, indent=1).encode() + b"\n")

    def save_key(self, vault_id: str, machine: str, key: MasterKey, passphrase: str | None) -> None:
        doc = {"master_key": key.secret.hex()}
        if passphrase is not None:
            doc["passphrase_check"] = key.passphrase_check(passphrase).hex()
        write_private(self.key_file(vault_id, machine), json.dumps(doc).encode() + b"\n")

    def stored_key(self, vault_id: str, machine: str) -> tuple[MasterKey, bytes | None] | None:
        """The machine's master key and its passphrase verifier, if this machine keeps them."""
        path = self.key_file(vault_id, machine)
        try:
            doc = json.loads(path.read_text())
            key = MasterKey(bytes.fromhex(doc["master_key"]))
            check = doc.get("passphrase_check")
            return key, bytes.fromhex(check) if check else None
        except FileNotFoundError:
            return None
        except (KeyError, TypeError, ValueError):
            raise CairnError(f"{path} is damaged: register again") from None
