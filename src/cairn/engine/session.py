"""Opening vaults and machine stores: create a vault, register this machine, unlock a store.

A passphrase, when one is given, is always checked (exit 12 if wrong), even where CAIRN_HOME holds
the machine's key; without one, the stored key is used. Nothing is written before the passphrase is
known to be right.

A vault's backend secrets come from a vault credentials file (`register --vault-credentials FILE`)
or, registering with a LOCATION, from the environment; registration keeps them in CAIRN_HOME (0600)
and every later command uses those. A remote vault (azure://, s3://) is opened through the
retrying wrapper; a local folder is not: its backend never raises a transient error (a full or
failing disk stays full or failing), so a wrapper would only add a layer and collect listings.
"""

from __future__ import annotations

import hmac
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cairn.codec.kdf import MIN_PASSPHRASE_CHARS
from cairn.core.clock import Clock
from cairn.core.errors import AccessDenied, CairnError, UsageError
from cairn.engine import crashpoint, settings
from cairn.engine import credentials as credfile
from cairn.engine.credentials import VaultCredentials
from cairn.engine.home import Home, Registration
from cairn.engine.seen import SeenPoints
from cairn.engine.throttle import throttle_store
from cairn.storage.blobstore import BlobStore
from cairn.storage.location import is_remote, normalize, open_store
from cairn.storage.retrying import RetryingBlobStore
from cairn.storage.secrets import (
    check_credentials,
    check_location,
    environment_names,
    with_environment,
)
from cairn.storage.secrets import from_environment as credentials_from_environment
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
    check_location(location)
    return normalize(location)


def open_vault_store(
    location: str,
    credentials: Mapping[str, str] | None = None,
    wrap: Callable[[BlobStore], BlobStore] | None = None,
) -> BlobStore:
    """The store of a vault: remote ones retry transient failures (see the module docstring).
    `wrap` goes between the backend and the retries (the throttle). Under the retrying wrapper the
    SDK does not retry by itself, so the wrapper's bound on attempts is the only one."""
    check_location(location)
    store = open_store(location, credentials, sdk_retries=0 if is_remote(location) else None)
    if wrap is not None:
        store = wrap(store)
    store = RetryingBlobStore(store) if is_remote(location) else store
    return crashpoint.KillingStore(store) if crashpoint.armed() else store


def create_vault(
    location: str,
    clock: Clock,
    *,
    save_credentials: Path | None = None,
    environ: Mapping[str, str] | None = None,
    append_only: bool = False,
    object_lock_days: int | None = None,
) -> VaultInfo:
    """Create an empty vault; with `save_credentials`, write its vault credentials file there (the
    backend's secrets from the environment; none for a local vault)."""
    location = vault_location(location)
    env = os.environ if environ is None else environ
    secrets = credentials_from_environment(location, env) if is_remote(location) else {}
    if save_credentials is not None:
        if os.path.lexists(save_credentials):
            raise UsageError(f"{save_credentials} exists already: name a new file")
        if not os.path.isdir(os.path.dirname(os.path.abspath(save_credentials))):
            raise UsageError(f"the folder of {save_credentials} does not exist")
        if is_remote(location) and not secrets:
            raise UsageError(
                "no credentials for this vault in the environment to save: set "
                + " or ".join(environment_names(location))
            )
    store = open_vault_store(location, secrets or None)
    info = Vault.create(store, clock, append_only, object_lock_days)
    if save_credentials is not None:
        credfile.write_file(
            save_credentials, VaultCredentials(location, info.vault_id, info.created, secrets)
        )
    return info


def check_vault_id(given: VaultCredentials, info: VaultInfo, source: Path | None) -> None:
    """Refuse a vault credentials file whose vault id is not that of the vault it names."""
    if given.vault_id != info.vault_id:
        raise UsageError(
            f"{source} is for vault {given.vault_id}, but the vault at {given.vault} is"
            f" {info.vault_id}: it was created again or the file is for another vault"
        )


@dataclass(frozen=True, slots=True)
class Registered:
    machine: str
    vault: str
    vault_id: str
    new_machine: bool
    kept_credentials: bool = False
    policy_restored: bool = False  # the policy kept in the vault, back in CAIRN_HOME


def register(
    home: Home,
    location: str | None,
    clock: Clock,
    *,
    credentials_file: Path | None = None,
    machine: str | None = None,
    passphrase: str | None = None,
    prompt: PassphrasePrompt | None = None,
    environ: Mapping[str, str] | None = None,
) -> Registered:
    """Register with the vault at `location`, or the one a vault credentials file names."""
    given: VaultCredentials | None = None
    if (location is None) == (credentials_file is None):
        raise UsageError("give either a vault LOCATION or --vault-credentials FILE (one of them)")
    if credentials_file is not None:
        given = credfile.read_file(credentials_file)
        location, secrets = given.vault, dict(given.credentials)
    else:
        assert location is not None
        location = vault_location(location)
        env = os.environ if environ is None else environ
        secrets = credentials_from_environment(location, env) if is_remote(location) else {}
    check_credentials(location, secrets)
    vault = Vault(open_vault_store(location, secrets or None), clock)
    info = vault.info()
    if given is not None:
        check_vault_id(given, info, credentials_file)
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
    # The secrets before the registration that needs them: a registration never lacks its own.
    home.save_credentials(VaultCredentials(location, info.vault_id, info.created, secrets))
    home.save(Registration(location, info.vault_id, name, now.isoformat()), key, secret)
    restored = settings.restore_policy(home, policy)
    return Registered(name, location, info.vault_id, new, bool(secrets), restored)


def _credential_source(home: Home, vault_id: str, kept: bool, from_env: list[str]) -> str:
    """Which credentials the refused request used, and where they came from: names, no values."""
    path = home.credentials_file(vault_id)
    if from_env:
        also = f" over the vault credentials kept in CAIRN_HOME ({path})" if kept else ""
        return (
            f"used {', '.join(from_env)} from the environment, which win{also}: correct or unset"
            " them"
        )
    if kept:
        return (
            f"used the vault credentials kept in CAIRN_HOME ({path}): set the right ones in the"
            " environment, which win over the kept copy, or register again with a vault"
            " credentials file"
        )
    return "no credentials were kept at registration or set in the environment"


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
    kept = home.credentials(reg.vault_id)
    # A secret set in the environment wins over the kept copy (secrets.with_environment). The
    # throttle (docs/throttle.md) holds every job that opens the repository to the rate in
    # force; retries go around it, so each retried byte is charged too.
    credentials, from_env = with_environment(
        reg.vault, kept.credentials if kept else {}, os.environ
    )
    store = open_vault_store(
        reg.vault,
        credentials or None,
        wrap=lambda inner: throttle_store(home, inner, reg.vault, clock),
    )
    vault = Vault(store, clock)
    try:
        info = vault.info()
    except AccessDenied as e:
        raise AccessDenied(
            f"{e} ({_credential_source(home, reg.vault_id, kept is not None, from_env)})"
        ) from None
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
    repo = vault.open(name, key)
    if name == reg.machine:
        repo.memory = SeenPoints(home.path / "seen" / f"{info.vault_id}.{name}.json")
    return repo
