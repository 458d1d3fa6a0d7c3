"""Opening vaults and machine stores: create a vault, register this machine, unlock a store.

A passphrase, when one is given, is always checked (exit 12 if wrong), even where CAIRN_HOME holds
the machine's key; without one, the stored key is used. Nothing is written before the passphrase is
known to be right.
"""

from __future__ import annotations

import hmac
import socket
from collections.abc import Callable
from dataclasses import dataclass

from cairn.codec.kdf import MIN_PASSPHRASE_CHARS
from cairn.core.clock import Clock
from cairn.core.errors import CairnError, UsageError
from cairn.engine.home import Home, Registration
from cairn.engine.throttle import throttle_store
from cairn.storage.location import normalize, open_store
from cairn.vault.layout import machine_name
from cairn.vault.repository import Repository
from cairn.vault.vault import Vault
from cairn.vault.vaultfile import VaultInfo

PassphrasePrompt = Callable[[str], str]


def _need(passphrase: str | None, prompt: PassphrasePrompt | None, why: str) -> str:
    if passphrase is not None:
        return passphrase
    if prompt is not None:
        return prompt(why)
    raise UsageError(f"{why}: set CAIRN_PASSPHRASE or give --passphrase-file FILE")


def check_new_passphrase(passphrase: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE_CHARS:
        raise UsageError(
            f"the passphrase has {len(passphrase)} characters; it needs at least"
            f" {MIN_PASSPHRASE_CHARS}"
        )


def vault_location(location: str) -> str:
    """The canonical form of a vault location (an absolute path for a folder)."""
    return normalize(location)


def create_vault(location: str, clock: Clock) -> VaultInfo:
    return Vault.create(open_store(location), clock)


@dataclass(frozen=True, slots=True)
class Registered:
    machine: str
    vault: str
    vault_id: str
    new_machine: bool


def register(
    home: Home,
    location: str,
    clock: Clock,
    *,
    machine: str | None = None,
    passphrase: str | None = None,
    prompt: PassphrasePrompt | None = None,
) -> Registered:
    location = normalize(location)
    vault = Vault(open_store(location), clock)
    info = vault.info()
    name = machine_name(machine or socket.gethostname())
    now = clock.now()
    if vault.has_machine(name):
        secret = _need(passphrase, prompt, f"machine {name!r} exists in this vault: its passphrase")
        key = vault.unlock(name, secret)
        new = False
    else:
        secret = _need(passphrase, prompt, f"a new passphrase for machine {name!r}")
        check_new_passphrase(secret)
        key = vault.init_machine(name, secret, now)
        new = True
    repo = vault.open(name, key)
    try:
        policy = repo.read_registration().get("policy")
    except CairnError:
        policy = None  # a new machine, or a registration that no longer opens: written anew
    repo.write_registration({"policy": policy}, now)
    home.save(Registration(location, info.vault_id, name, now.isoformat()), key, secret)
    return Registered(name, location, info.vault_id, new)


def open_repository(
    home: Home,
    clock: Clock,
    *,
    machine: str | None = None,
    passphrase: str | None = None,
    prompt: PassphrasePrompt | None = None,
) -> Repository:
    """The registered machine's store (or, with `machine`, another machine's in the same vault)."""
    reg = home.registration()
    # Throttle (docs/throttle.md): a remote vault's store is wrapped when the throttle is on, so
    # every job that opens the repository is held to the rate in force.
    store = throttle_store(home, open_store(reg.vault), reg.vault, clock)
    vault = Vault(store, clock)
    info = vault.info()
    name = machine_name(machine) if machine else reg.machine
    if info.vault_id != reg.vault_id:
        raise UsageError(
            f"the vault at {reg.vault} is not the one this machine registered with"
            f" (vault id {info.vault_id}, expected {reg.vault_id}): register again"
        )
    stored = home.stored_key(info.vault_id, name) if name == reg.machine else None
    if stored is None:
        secret = _need(passphrase, prompt, f"the passphrase of machine {name!r}")
        key = vault.unlock(name, secret)
    else:
        key, check = stored
        vault.config(name)
        if passphrase is not None and (
            check is None or not hmac.compare_digest(check, key.passphrase_check(passphrase))
        ):
            # Not the passphrase this machine last used: the vault's key files decide.
            opened = vault.unlock(name, passphrase)
            if opened.secret != key.secret:
                raise UsageError(
                    f"this passphrase opens machine {name!r} in the vault, but with a different"
                    " key than the one kept in CAIRN_HOME: register again"
                )
            home.save_key(info.vault_id, name, key, passphrase)
    return vault.open(name, key)
