"""Vault credentials files: what one machine hands another so it can register with the vault.

    {"vault": LOCATION, "vault_id": hex, "created": ISO time, "credentials": {backend secrets}}

Mode 0600. `cairn vault create LOCATION --save-credentials FILE` writes one (the credentials from the
environment for a cloud vault, `{}` for a local one); `cairn register --vault-credentials FILE` reads
it, and refuses a file that its group or others may open. CAIRN_HOME keeps a copy of the same form
(`credentials/<vault id>.json`, 0600) for unattended runs.

The secrets never appear in a message or a repr: errors here name the file and the field, never a
value.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cairn.core.errors import CairnError, UsageError
from cairn.core.ids import is_hex_id
from cairn.storage.location import normalize
from cairn.storage.secrets import check_credentials, check_location

MAX_FILE_BYTES = 1 << 20
VAULT_ID_BYTES = 16  # as vault.json has it (VaultInfo.new)


@dataclass(frozen=True, slots=True)
class VaultCredentials:
    vault: str
    vault_id: str
    created: str
    credentials: Mapping[str, str] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        keys = ", ".join(sorted(self.credentials))
        return (
            f"VaultCredentials(vault={self.vault!r}, vault_id={self.vault_id!r},"
            f" created={self.created!r}, credentials=<{keys or 'none'}>)"
        )

    def encode(self) -> bytes:
        doc = {
            "vault": self.vault,
            "vault_id": self.vault_id,
            "created": self.created,
            "credentials": dict(self.credentials),
        }
        return json.dumps(doc, indent=1).encode() + b"\n"

    @classmethod
    def decode(cls, data: bytes, source: str) -> VaultCredentials:
        """Parse a vault credentials file; `source` names it in messages."""
        bad = f"{source} is not a vault credentials file"
        try:
            doc = json.loads(data)
        except (UnicodeDecodeError, ValueError):
            raise UsageError(f"{bad} (not JSON)") from None
        if not isinstance(doc, dict):
            raise UsageError(f"{bad} (not a JSON object)")
        for name in ("vault", "vault_id", "created"):
            if not isinstance(doc.get(name), str) or not doc[name]:
                raise UsageError(f"{bad}: {name!r} is missing or not a string")
        if not is_hex_id(doc["vault_id"], VAULT_ID_BYTES):
            raise UsageError(f"{bad}: 'vault_id' is not a vault id")
        secrets = doc.get("credentials", {})
        if not isinstance(secrets, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in secrets.items()
        ):
            raise UsageError(f"{bad}: 'credentials' must map names to strings")
        check_location(doc["vault"])
        vault = normalize(doc["vault"])
        check_credentials(vault, secrets)
        return cls(vault, doc["vault_id"], doc["created"], dict(secrets))


def read_file(path: Path) -> VaultCredentials:
    """Read a vault credentials file, refusing one that is not private to its owner."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError as e:
        raise UsageError(f"cannot read the vault credentials file {path}: {e.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UsageError(f"the vault credentials file {path} is not a regular file")
        if st.st_mode & 0o077:
            raise UsageError(
                f"the vault credentials file {path} is open to group or others (mode"
                f" {stat.S_IMODE(st.st_mode):04o}); it holds the vault's secrets: run"
                f" `chmod 600 {path}`, and consider them exposed if others could read it"
            )
        data = os.read(fd, MAX_FILE_BYTES + 1)
    except OSError as e:
        raise UsageError(f"cannot read the vault credentials file {path}: {e.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise UsageError(f"{path} is not a vault credentials file (too large)")
    return VaultCredentials.decode(data, str(path))


def write_file(path: Path, creds: VaultCredentials) -> None:
    """Write a new vault credentials file, mode 0600; an existing file is never replaced."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        raise UsageError(f"{path} exists already: name a new file") from None
    except OSError as e:
        raise UsageError(f"cannot create the vault credentials file {path}: {e.strerror}") from None
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(creds.encode())
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except OSError as e:
        os.close(fd)
        os.unlink(path)
        raise CairnError(f"cannot write the vault credentials file {path}: {e.strerror}") from None
    os.close(fd)
