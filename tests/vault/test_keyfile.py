"""Key files: plaintext JSON holding the master key sealed by an Argon2id key of the passphrase."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cairn.codec.kdf import KdfParams, derive
from cairn.codec.keys import MasterKey
from cairn.core.errors import EXIT_WRONG_PASSPHRASE, IntegrityError, NotRegistered, WrongPassphrase
from cairn.core.ids import is_hex_id, random_id
from cairn.storage.local import LocalBlobStore
from cairn.storage.memory import MemoryBlobStore
from cairn.vault.keyfile import KEY_VERSION, make_key_file, open_key_file, unlock
from cairn.vault.layout import MachineLayout
from cairn.vault.vault import Vault

from .conftest import MACHINE, PASSPHRASE, T0, UnlockedVault

WRONG = "not the passphrase at all"


@pytest.fixture(scope="module")
def sealed_key() -> tuple[MasterKey, str, bytes]:
    key = MasterKey.generate()
    key_id, data = make_key_file(key, PASSPHRASE, T0)
    return key, key_id, data


def test_the_key_file_is_documented_json(sealed_key: tuple[MasterKey, str, bytes]) -> None:
    key, key_id, data = sealed_key
    assert is_hex_id(key_id)
    doc = json.loads(data)
    assert set(doc) == {"v", "created", "kdf", "sealed", "checksum", "mac"}
    assert doc["v"] == KEY_VERSION == 1
    assert doc["created"] == T0.isoformat()
    kdf = doc["kdf"]
    assert set(kdf) == {"algorithm", "salt", "iterations", "memory_kib", "lanes"}
    assert (kdf["algorithm"], kdf["iterations"], kdf["memory_kib"], kdf["lanes"]) == (
        "argon2id",
        4,
        65536,
        4,
    )
    assert len(base64.b64decode(kdf["salt"])) == 16
    sealed = base64.b64decode(doc["sealed"])
    assert len(sealed) == 12 + 64 + 16
    assert key.secret not in data and base64.b64encode(key.secret) not in data


def test_the_sealed_key_is_aes_gcm_under_the_argon2id_key(
    sealed_key: tuple[MasterKey, str, bytes],
) -> None:
    """Written out by hand, so that the format cannot drift unnoticed."""
    key, key_id, data = sealed_key
    doc = json.loads(data)
    k = doc["kdf"]
    kek = derive(
        PASSPHRASE,
        KdfParams("argon2id", base64.b64decode(k["salt"]), 4, 65536, 4),
    )
    sealed = base64.b64decode(doc["sealed"])
    ad = b"cairn/key/" + bytes.fromhex(key_id)
    assert AESGCM(kek).decrypt(sealed[:12], sealed[12:], ad) == key.secret


def test_the_right_passphrase_opens_it(sealed_key: tuple[MasterKey, str, bytes]) -> None:
    key, key_id, data = sealed_key
    opened = open_key_file(key_id, data, PASSPHRASE)
    assert opened == key


def test_a_wrong_passphrase_gives_none(sealed_key: tuple[MasterKey, str, bytes]) -> None:
    _, key_id, data = sealed_key
    assert open_key_file(key_id, data, WRONG) is None


def test_a_key_file_renamed_to_another_id_does_not_open(
    sealed_key: tuple[MasterKey, str, bytes],
) -> None:
    _, key_id, data = sealed_key
    other = random_id()
    assert other != key_id
    with pytest.raises(IntegrityError, match="checksum"):  # the checksum covers the id
        open_key_file(other, data, PASSPHRASE)


def test_unlock_with_a_wrong_passphrase_raises_wrong_passphrase(
    sealed_key: tuple[MasterKey, str, bytes],
) -> None:
    _, key_id, data = sealed_key
    with pytest.raises(WrongPassphrase) as err:
        unlock([(key_id, data)], WRONG, "alpha")
    assert err.value.exit_code == EXIT_WRONG_PASSPHRASE == 12
    assert "'alpha'" in str(err.value)
    assert WRONG not in str(err.value)


def test_unlock_tries_every_key_file(sealed_key: tuple[MasterKey, str, bytes]) -> None:
    key, key_id, data = sealed_key
    second_id, second = make_key_file(key, "a second passphrase, after a change", T0)
    files = [(second_id, second), (key_id, data)]
    assert unlock(files, PASSPHRASE, "alpha") == key
    assert unlock(files, "a second passphrase, after a change", "alpha") == key


def rewrite(data: bytes, **kdf: object) -> bytes:
    doc = json.loads(data)
    doc["kdf"].update(kdf)
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    "kdf",
    [
        {"memory_kib": 64 * 1024 * 1024},  # 64 GiB: refused before any memory is taken
        {"iterations": 1_000_000},
        {"lanes": 0},
        {"algorithm": "pbkdf2"},
        {"salt": base64.b64encode(b"short").decode()},
    ],
)
def test_hostile_kdf_parameters_are_refused_without_deriving(
    sealed_key: tuple[MasterKey, str, bytes], kdf: dict[str, object]
) -> None:
    _, key_id, data = sealed_key
    with pytest.raises(IntegrityError, match="malformed"):
        open_key_file(key_id, rewrite(data, **kdf), PASSPHRASE)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b"[]",
        b'{"v": 1}',
        b'{"v": 1, "kdf": {}, "sealed": ""}',
    ],
)
def test_malformed_key_files_are_integrity_errors(data: bytes) -> None:
    with pytest.raises(IntegrityError):
        open_key_file(random_id(), data, PASSPHRASE)


def test_an_unknown_key_file_version_is_refused(sealed_key: tuple[MasterKey, str, bytes]) -> None:
    _, key_id, data = sealed_key
    doc = json.loads(data)
    doc["v"] = 2
    with pytest.raises(IntegrityError, match="version"):
        open_key_file(key_id, json.dumps(doc).encode(), PASSPHRASE)


def test_bad_base64_is_refused(sealed_key: tuple[MasterKey, str, bytes]) -> None:
    _, key_id, data = sealed_key
    doc = json.loads(data)
    doc["sealed"] = "abc"  # incorrect padding
    with pytest.raises(IntegrityError):
        open_key_file(key_id, json.dumps(doc).encode(), PASSPHRASE)


# --- through the vault ----------------------------------------------------------------------------


def test_vault_unlock_opens_with_the_right_passphrase(unlocked_vault: UnlockedVault) -> None:
    vault = Vault(unlocked_vault.store, None)  # type: ignore[arg-type]
    assert vault.unlock(MACHINE, PASSPHRASE) == unlocked_vault.key


def test_vault_unlock_with_a_wrong_passphrase_exits_12(unlocked_vault: UnlockedVault) -> None:
    vault = Vault(unlocked_vault.store, None)  # type: ignore[arg-type]
    with pytest.raises(WrongPassphrase) as err:
        vault.unlock(MACHINE, WRONG)
    assert err.value.exit_code == 12


def test_key_files_are_plaintext_json_in_the_vault(unlocked_vault: UnlockedVault) -> None:
    vault = Vault(unlocked_vault.store, None)  # type: ignore[arg-type]
    (key_id, data), *rest = vault.key_files(MACHINE)
    assert rest == []
    assert is_hex_id(key_id)
    assert json.loads(data)["kdf"]["algorithm"] == "argon2id"


def test_unlocking_an_unknown_machine_is_not_registered(unlocked_vault: UnlockedVault) -> None:
    vault = Vault(unlocked_vault.store, None)  # type: ignore[arg-type]
    with pytest.raises(NotRegistered) as err:
        vault.unlock("beta", PASSPHRASE)
    assert err.value.exit_code == 10


def test_a_machine_without_key_files_is_not_registered(unlocked_vault: UnlockedVault) -> None:
    store = unlocked_vault.copy()
    for info in list(store.list(MachineLayout(MACHINE).prefix("keys"))):
        store.delete(info.name)
    with pytest.raises(NotRegistered, match="no key files"):
        Vault(store, None).unlock(MACHINE, PASSPHRASE)  # type: ignore[arg-type]


def stray_first(unlocked_vault: UnlockedVault, name: str, data: bytes | None) -> MemoryBlobStore:
    """The vault with a stray blob in keys/ (by default a copy of the real key file), listed
    before the real key file."""
    source = unlocked_vault.store
    layout = MachineLayout(MACHINE)
    if data is None:
        (real,) = source.list(layout.prefix("keys"))
        data = source.get(real.name)
    store = MemoryBlobStore()
    store.put(layout.key(name), data)
    for info in source.list(""):
        store.put(info.name, source.get(info.name))
    return store


@pytest.mark.parametrize(
    ("name", "data"), [("key.bak", None), ("notes.txt", b"not a key file")], ids=["copy", "notes"]
)
def test_a_stray_file_in_keys_does_not_stop_unlock(
    unlocked_vault: UnlockedVault, name: str, data: bytes | None
) -> None:
    store = stray_first(unlocked_vault, name, data)
    assert Vault(store, None).unlock(MACHINE, PASSPHRASE) == unlocked_vault.key  # type: ignore[arg-type]


def test_a_desktop_file_in_a_local_keys_folder_does_not_stop_unlock(
    unlocked_vault: UnlockedVault, tmp_path: Path
) -> None:
    store = LocalBlobStore(str(tmp_path / "vault"))
    for info in unlocked_vault.store.list(""):
        store.put(info.name, unlocked_vault.store.get(info.name))
    (tmp_path / "vault" / "machines" / MACHINE / "keys" / ".DS_Store").write_bytes(b"\x00\x01")
    assert Vault(store, None).unlock(MACHINE, PASSPHRASE) == unlocked_vault.key  # type: ignore[arg-type]
