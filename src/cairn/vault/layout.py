"""Where each object lives in a vault (docs/format.md, "Layout")."""

from __future__ import annotations

import re

from cairn.core.errors import UsageError

VAULT_FILE = "vault.json"
_MACHINE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


def machine_name(name: str) -> str:
    """A machine name as stored: the host name, lowercased; refused if it cannot be a blob name."""
    lowered = name.strip().lower()
    if not _MACHINE.match(lowered):
        raise UsageError(
            f"invalid machine name {name!r}: use 1-63 characters a-z, 0-9, '.', '_' or '-'"
            " (--machine NAME)"
        )
    return lowered


class MachineLayout:
    def __init__(self, machine: str) -> None:
        self.machine = machine
        self.root = f"machines/{machine}"

    @property
    def config(self) -> str:
        return f"{self.root}/config"

    @property
    def registration(self) -> str:
        return f"{self.root}/machine"

    def key(self, key_id: str) -> str:
        return f"{self.root}/keys/{key_id}"

    def pack(self, pack_id: str) -> str:
        return f"{self.root}/packs/{pack_id[:2]}/{pack_id}"

    def index(self, segment_id: str) -> str:
        return f"{self.root}/index/{segment_id}"

    def point(self, point_id: str) -> str:
        return f"{self.root}/points/{point_id}"

    def job(self, job_id: str) -> str:
        return f"{self.root}/jobs/{job_id}"

    def prune_state(self, state_id: str) -> str:
        return f"{self.root}/prune/{state_id}"

    def damage(self, point_id: str) -> str:
        return f"{self.root}/damaged/{point_id}"

    def lock(self, lock_id: str) -> str:
        return f"{self.root}/locks/{lock_id}"

    def prefix(self, kind: str) -> str:
        return f"{self.root}/{kind}/"
