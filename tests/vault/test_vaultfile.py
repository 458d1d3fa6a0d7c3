"""vault.json and a machine's config: plaintext JSON that a client MUST refuse when too new."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cairn.codec.chunker import Chunker
from cairn.codec.compression import DEFAULT_LEVEL
from cairn.core.clock import FixedClock
from cairn.core.errors import EXIT_NOT_REGISTERED, CairnError, IntegrityError, NotRegistered
from cairn.core.ids import is_hex_id, random_id
from cairn.storage.local import LocalBlobStore
from cairn.storage.memory import MemoryBlobStore
from cairn.vault.layout import VAULT_FILE, MachineLayout
from cairn.vault.points import RecoveryPoint
from cairn.vault.vault import Vault
from cairn.vault.vaultfile import (
    STORE_VERSION,
    VAULT_FORMAT,
    VAULT_VERSION,
    StoreConfig,
    VaultInfo,
)

from .conftest import MACHINE, PASSPHRASE, T0, UnlockedVault

WHERE = "memory://test"


# --- vault.json -----------------------------------------------------------------------------------


def test_vault_json_round_trip() -> None:
    info = VaultInfo.new(T0)
    assert is_hex_id(info.vault_id, 16)
    assert info.version == VAULT_VERSION == 1
    assert VaultInfo.decode(info.encode(), WHERE) == info
    assert VaultInfo.new(T0).vault_id != info.vault_id


def test_vault_json_fields() -> None:
    info = VaultInfo.new(T0)
    doc = json.loads(info.encode())
    assert doc == {
        "format": VAULT_FORMAT,
        "version": 1,
        "vault_id": info.vault_id,
        "created": "2025-03-01T12:00:00+00:00",
    }
    assert VAULT_FORMAT == "cairn-vault"


def vault_doc(**changes: Any) -> bytes:
    doc: dict[str, Any] = {
        "format": "cairn-vault",
        "version": 1,
        "vault_id": "0f" * 16,
        "created": "2025-01-01T00:00:00+00:00",
    }
    doc.update(changes)
    return json.dumps(doc).encode()


def test_a_newer_vault_version_asks_for_an_upgrade() -> None:
    with pytest.raises(CairnError, match="upgrade Cairn") as err:
        VaultInfo.decode(vault_doc(version=2), WHERE)
    assert not isinstance(err.value, IntegrityError)
    assert "format 2" in str(err.value)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b"[]",
        vault_doc(format="restic"),
        vault_doc(version="one"),
        vault_doc(vault_id="0F" * 16),
        vault_doc(vault_id="0f" * 32),
        vault_doc(vault_id="xyz"),
    ],
)
def test_a_damaged_or_foreign_vault_json_is_refused(data: bytes) -> None:
    with pytest.raises(IntegrityError):
        VaultInfo.decode(data, WHERE)


def test_a_newer_vault_json_of_another_shape_asks_for_an_upgrade() -> None:
    data = json.dumps({"format": "cairn-vault", "version": 2, "id": "0f" * 16}).encode()
    with pytest.raises(CairnError, match="upgrade"):
        VaultInfo.decode(data, WHERE)


# --- config ---------------------------------------------------------------------------------------


def test_config_round_trip() -> None:
    cfg = StoreConfig(chunk_avg=2 << 20, chunk_min=512 << 10, chunk_max=8 << 20, level=7)
    assert StoreConfig.decode(cfg.encode(), WHERE) == cfg
    assert StoreConfig.decode(StoreConfig().encode(), WHERE) == StoreConfig()


def test_config_fields() -> None:
    doc = json.loads(StoreConfig().encode())
    assert doc == {
        "version": STORE_VERSION,
        "features": [],
        "chunker": {
            "algorithm": "fastcdc-permuted",
            "avg": 1 << 20,
            "min": 256 << 10,
            "max": 4 << 20,
        },
        "compression": {"algorithm": "zstd", "level": DEFAULT_LEVEL},
        "aead": "aes-256-gcm",
        "id_hash": "blake3-keyed",
    }
    assert STORE_VERSION == 1


def config_doc(**changes: Any) -> bytes:
    doc = json.loads(StoreConfig().encode())
    doc.update(changes)
    return json.dumps(doc).encode()


def test_a_newer_store_version_asks_for_an_upgrade() -> None:
    with pytest.raises(CairnError, match="upgrade Cairn") as err:
        StoreConfig.decode(config_doc(version=2), WHERE)
    assert not isinstance(err.value, IntegrityError)


def test_an_unknown_feature_asks_for_an_upgrade_and_names_it() -> None:
    with pytest.raises(CairnError, match="upgrade Cairn") as err:
        StoreConfig.decode(config_doc(features=["packs-v2"]), WHERE)
    assert "packs-v2" in str(err.value)
    assert WHERE in str(err.value)


@pytest.mark.parametrize(
    "change",
    [
        {"aead": "chacha20-poly1305"},
        {"id_hash": "hmac-sha256"},
        {"chunker": {"algorithm": "fastcdc", "avg": 1 << 20, "min": 256 << 10, "max": 4 << 20}},
        {"compression": {"algorithm": "lz4", "level": 3}},
    ],
)
def test_unknown_algorithms_are_refused(change: dict[str, Any]) -> None:
    with pytest.raises(CairnError, match="algorithms"):
        StoreConfig.decode(config_doc(**change), WHERE)


@pytest.mark.parametrize(
    ("avg", "min_", "max_"),
    [
        (1 << 20, (64 << 10) - 1, 4 << 20),  # min below 64 KiB
        (1 << 20, 2 << 20, 4 << 20),  # min above avg
        (8 << 20, 256 << 10, 4 << 20),  # avg above max
        (1 << 20, 256 << 10, (16 << 20) + 1),  # max above 16 MiB
    ],
)
def test_chunker_sizes_out_of_range_are_refused(avg: int, min_: int, max_: int) -> None:
    chunker = {"algorithm": "fastcdc-permuted", "avg": avg, "min": min_, "max": max_}
    with pytest.raises(IntegrityError, match="chunker"):
        StoreConfig.decode(config_doc(chunker=chunker), WHERE)


@pytest.mark.parametrize("level", [0, 20, -1])
def test_compression_levels_out_of_range_are_refused(level: int) -> None:
    with pytest.raises(IntegrityError, match="compression"):
        StoreConfig.decode(config_doc(compression={"algorithm": "zstd", "level": level}), WHERE)


@pytest.mark.parametrize(
    "data", [b"", b"{}", b"[]", b"null", config_doc(chunker=None), config_doc(version="x")]
)
def test_a_damaged_config_is_refused(data: bytes) -> None:
    with pytest.raises(IntegrityError, match="damaged"):
        StoreConfig.decode(data, WHERE)


def test_a_newer_config_of_another_shape_asks_for_an_upgrade() -> None:
    data = json.dumps({"version": 2, "features": ["new-chunker"], "chunking": {}}).encode()
    with pytest.raises(CairnError, match="upgrade"):
        StoreConfig.decode(data, WHERE)


# --- the vault ------------------------------------------------------------------------------------


def test_create_writes_vault_json_only() -> None:
    store = MemoryBlobStore()
    info = Vault.create(store, FixedClock(T0))
    assert [b.name for b in store.list("")] == [VAULT_FILE]
    assert Vault(store, None).info() == info  # type: ignore[arg-type]


def test_create_refuses_an_existing_vault_or_a_non_empty_location() -> None:
    store = MemoryBlobStore()
    Vault.create(store, FixedClock(T0))
    with pytest.raises(CairnError, match="already holds a vault"):
        Vault.create(store, FixedClock(T0))
    other = MemoryBlobStore()
    other.put("something/else", b"x")
    with pytest.raises(CairnError, match="not empty"):
        Vault.create(other, FixedClock(T0))


def test_no_vault_is_not_registered() -> None:
    with pytest.raises(NotRegistered) as err:
        Vault(MemoryBlobStore(), None).info()  # type: ignore[arg-type]
    assert err.value.exit_code == EXIT_NOT_REGISTERED


def test_a_registered_machine_has_config_and_one_key(unlocked_vault: UnlockedVault) -> None:
    vault = Vault(unlocked_vault.store, None)  # type: ignore[arg-type]
    layout = MachineLayout(MACHINE)
    names = sorted(b.name for b in unlocked_vault.store.list("machines/"))
    assert names[0] == layout.config
    assert len(names) == 2 and names[1].startswith(layout.prefix("keys"))
    assert vault.machines() == [MACHINE]
    assert vault.has_machine(MACHINE) and not vault.has_machine("beta")
    assert vault.config(MACHINE) == StoreConfig()
    with pytest.raises(NotRegistered):
        vault.config("beta")


def test_a_machine_config_of_a_newer_version_stops_open(unlocked_vault: UnlockedVault) -> None:
    store = unlocked_vault.copy()
    store.put(MachineLayout(MACHINE).config, config_doc(version=2))
    vault = Vault(store, None)  # type: ignore[arg-type]
    with pytest.raises(CairnError, match="upgrade"):
        vault.open(MACHINE, unlocked_vault.key)


def test_the_default_config_can_be_chunked() -> None:
    cfg = StoreConfig.decode(StoreConfig().encode(), WHERE)
    Chunker(bytes(32), cfg.chunk_avg, cfg.chunk_min, cfg.chunk_max)


@pytest.mark.parametrize(
    ("avg", "min_", "max_"),
    [
        (1 << 20, 256 << 10, 16 << 20),
        (4 << 20, 2 << 20, 8 << 20),
        (8 << 20, 1 << 20, 16 << 20),
    ],
)
def test_every_config_that_opens_can_be_chunked(avg: int, min_: int, max_: int) -> None:
    """A config is refused as damaged, or the chunker can use it: never a crash in the workers."""
    cfg = StoreConfig(chunk_avg=avg, chunk_min=min_, chunk_max=max_)
    try:
        cfg = StoreConfig.decode(cfg.encode(), WHERE)
    except IntegrityError as e:
        assert "chunker sizes out of range" in str(e)
        return
    Chunker(bytes(32), cfg.chunk_avg, cfg.chunk_min, cfg.chunk_max)


def test_a_local_vault_from_create_to_reopen(tmp_path: Path) -> None:
    clock = FixedClock(T0)
    store = LocalBlobStore(str(tmp_path / "vault"))
    info = Vault.create(store, clock)
    key = Vault(store, clock).init_machine(MACHINE, PASSPHRASE, T0)
    repo = Vault(store, clock).open(MACHINE, key)
    point = RecoveryPoint(random_id(), T0, MACHINE, "h", ["/"], bytes(32))
    repo.save_point(point)
    # Another process: only the folder and the passphrase.
    again = Vault(LocalBlobStore(str(tmp_path / "vault")), clock)
    assert again.info() == info
    reopened = again.open(MACHINE, again.unlock(MACHINE, PASSPHRASE))
    assert reopened.find_point("latest") == point
    on_disk = sorted(
        str(p.relative_to(tmp_path / "vault"))
        for p in (tmp_path / "vault").rglob("*")
        if p.is_file()
    )
    assert on_disk[0] == "machines/alpha/config"
    assert on_disk[1].startswith("machines/alpha/keys/")
    assert on_disk[2:] == [f"machines/alpha/points/{point.id}", "vault.json"]
