"""Shared fixtures of the vault tests: a fixed clock, stores, and repositories without a KDF.

Deriving a key from a passphrase costs about 0.2 s, so only the key-file tests and one shared,
session-wide vault pay for it; everything else builds a `Repository` straight from a master key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cairn.codec.keys import MasterKey
from cairn.core.clock import FixedClock
from cairn.storage.blobstore import BlobStore
from cairn.storage.local import LocalBlobStore
from cairn.storage.memory import MemoryBlobStore
from cairn.vault.repository import Repository
from cairn.vault.vault import Vault
from cairn.vault.vaultfile import StoreConfig

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
PASSPHRASE = "correct horse battery staple"
MACHINE = "alpha"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture(scope="session")
def master_key() -> MasterKey:
    return MasterKey.generate()


@pytest.fixture(params=["memory", "local"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "memory":
        yield MemoryBlobStore()
    else:
        yield LocalBlobStore(str(tmp_path / "vault"))


@pytest.fixture
def repo(store: BlobStore, master_key: MasterKey, clock: FixedClock) -> Repository:
    return Repository(store, MACHINE, master_key, StoreConfig(), clock)


@pytest.fixture
def memory_repo(master_key: MasterKey, clock: FixedClock) -> Repository:
    return Repository(MemoryBlobStore(), MACHINE, master_key, StoreConfig(), clock)


@dataclass(frozen=True)
class UnlockedVault:
    """A vault with machine `alpha` created once per session (one KDF), and its master key."""

    store: MemoryBlobStore
    key: MasterKey

    def copy(self) -> MemoryBlobStore:
        """A private copy of the vault's blobs, for tests that change them."""
        out = MemoryBlobStore()
        for info in self.store.list(""):
            out.put(info.name, self.store.get(info.name))
        return out


@pytest.fixture(scope="session")
def unlocked_vault() -> UnlockedVault:
    store = MemoryBlobStore()
    clock = FixedClock(T0)
    Vault.create(store, clock)
    key = Vault(store, clock).init_machine(MACHINE, PASSPHRASE, T0)
    return UnlockedVault(store, key)


@pytest.fixture
def fresh_vault(unlocked_vault: UnlockedVault) -> Callable[[], MemoryBlobStore]:
    return unlocked_vault.copy
