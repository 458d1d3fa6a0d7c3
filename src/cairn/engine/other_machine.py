"""Another machine's store, opened with a vault credentials file and that machine's passphrase:
Recover Data's "another server", as MARS has it.

`machines_in(file)` lists the machines the vault holds; `open_machine(file, machine, passphrase)`
opens one, checking the file against the vault first (the words of `cairn register`: a file for
another vault, or for a vault created again, is refused) and the passphrase against the
machine's key files (`WrongPassphrase`, exit 12). Nothing is written to the vault or to
CAIRN_HOME: the key lives as long as the returned repository.
"""

from __future__ import annotations

from pathlib import Path

from cairn.core.clock import Clock
from cairn.core.errors import UsageError
from cairn.engine import credentials as credfile
from cairn.engine.session import check_vault_id, open_vault_store
from cairn.vault.layout import machine_name
from cairn.vault.repository import Repository
from cairn.vault.vault import Vault


def _vault(credentials_file: Path, clock: Clock) -> Vault:
    given = credfile.read_file(credentials_file)
    vault = Vault(open_vault_store(given.vault, dict(given.credentials) or None), clock)
    check_vault_id(given, vault.info(), credentials_file)
    return vault


def machines_in(credentials_file: Path, clock: Clock) -> list[str]:
    """The machines the vault named by the file holds, by name."""
    vault = _vault(credentials_file, clock)
    return [name for name in vault.machines() if vault.has_machine(name)]


def open_machine(credentials_file: Path, machine: str, passphrase: str, clock: Clock) -> Repository:
    """`machine`'s store in the vault the file names, unlocked with its passphrase."""
    if not passphrase:
        raise UsageError(f"the passphrase of machine {machine!r} is needed to read its backups")
    vault = _vault(credentials_file, clock)
    name = machine_name(machine)
    key = vault.unlock(name, passphrase)
    return vault.open(name, key)
