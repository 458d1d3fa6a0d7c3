"""Vault credentials files: written 0600, refused when others may read them or when they name
another vault, kept in CAIRN_HOME for unattended runs, and never shown."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path

import pytest

from cairn.core.clock import SystemClock
from cairn.core.errors import UsageError
from cairn.engine import session
from cairn.engine.check import check
from cairn.engine.credentials import VaultCredentials, read_file, write_file
from cairn.engine.home import Home
from cairn.engine.session import create_vault, open_repository, register
from cairn.storage.blobstore import BlobStore
from cairn.storage.local import LocalBlobStore
from cairn.storage.memory import MemoryBlobStore
from cairn.storage.retrying import RetryingBlobStore
from tests.conftest import PASSPHRASE, Machine

SECRET = "s3cr3t-never-printed-0xdeadbeef"
AZURE = VaultCredentials(
    "azure://backups/office", "ab" * 16, "2026-01-01T00:00:00+00:00",
    {"account_name": "office", "account_key": SECRET},
)  # fmt: skip


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_file_round_trip_keeps_everything_and_shows_no_secret(tmp_path: Path) -> None:
    path = tmp_path / "office.json"
    write_file(path, AZURE)
    assert mode(path) == 0o600
    assert read_file(path) == AZURE
    doc = json.loads(path.read_text())
    assert set(doc) == {"vault", "vault_id", "created", "credentials"}
    assert SECRET not in repr(AZURE) and SECRET not in str(AZURE)
    assert "account_key" in repr(AZURE)  # which secrets, not what they are
    with pytest.raises(UsageError, match="exists already"):
        write_file(path, AZURE)


@pytest.mark.parametrize("bits", [0o640, 0o604, 0o620, 0o660])
def test_a_file_open_to_group_or_others_is_refused(tmp_path: Path, bits: int) -> None:
    path = tmp_path / "office.json"
    write_file(path, AZURE)
    os.chmod(path, bits)
    with pytest.raises(UsageError, match="chmod 600") as err:
        read_file(path)
    assert SECRET not in str(err.value)


@pytest.mark.parametrize(
    "doc",
    [
        {"vault": "azure://c", "vault_id": "ab" * 16, "created": "x", "credentials": [SECRET]},
        {"vault": "azure://c", "vault_id": SECRET, "created": "x", "credentials": {}},
        {"vault": f"azure://c?sig={SECRET}", "vault_id": "ab" * 16, "created": "x"},
        {"vault": "azure://c", "vault_id": "ab" * 16, "created": "x", "credentials": {"k": 1}},
        {"vault": "azure://c", "vault_id": "ab" * 16, "created": "x", "credentials": {"x": SECRET}},
        [SECRET],
    ],
)
def test_a_malformed_file_is_refused_without_showing_its_content(
    tmp_path: Path, doc: object
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    os.chmod(path, 0o600)
    with pytest.raises(
        UsageError, match=r"not a vault credentials file|does not take|secrets"
    ) as e:
        read_file(path)
    assert SECRET not in str(e.value)


def test_not_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(f"{{ {SECRET}")
    os.chmod(path, 0o600)
    with pytest.raises(UsageError, match="not JSON") as e:
        read_file(path)
    assert SECRET not in str(e.value)


def test_another_machine_registers_with_only_the_file(machine: Machine, tmp_path: Path) -> None:
    creds = tmp_path / "vault.json"
    write_file(
        creds, VaultCredentials(str(machine.vault), machine.home.registration().vault_id, "t", {})
    )
    laptop = Home(tmp_path / "laptop-home")
    done = register(
        laptop, None, SystemClock(), credentials_file=creds, machine="laptop",
        passphrase="the laptop's own passphrase",
    )  # fmt: skip
    assert done.new_machine and done.vault == str(machine.vault) and not done.kept_credentials
    assert not (laptop.path / "credentials").exists()  # a local vault has no secrets to keep
    assert open_repository(laptop, SystemClock()).machine == "laptop"
    # and it reads the first machine's store with that machine's passphrase
    other = open_repository(laptop, SystemClock(), machine="testbox", passphrase=PASSPHRASE)
    assert other.list_points() == []
    machine.check_clean()


def test_a_file_for_another_vault_is_refused(machine: Machine, tmp_path: Path) -> None:
    creds = tmp_path / "vault.json"
    write_file(creds, VaultCredentials(str(machine.vault), "cd" * 16, "t", {}))
    home = Home(tmp_path / "h2")
    with pytest.raises(UsageError, match="is for vault cdcd") as err:
        register(home, None, SystemClock(), credentials_file=creds, passphrase=PASSPHRASE * 2)
    assert machine.home.registration().vault_id in str(err.value)
    assert not home.registration_file.exists()
    machine.check_clean()


def test_location_or_file_but_not_both(machine: Machine, tmp_path: Path) -> None:
    home = Home(tmp_path / "h2")
    with pytest.raises(UsageError, match="either"):
        register(home, None, SystemClock(), passphrase=PASSPHRASE)
    with pytest.raises(UsageError, match="either"):
        register(
            home, str(machine.vault), SystemClock(), credentials_file=tmp_path / "f",
            passphrase=PASSPHRASE,
        )  # fmt: skip
    machine.check_clean()


class FakeCloud:
    """open_store for s3:// and azure:// as memory stores, recording the credentials given."""

    def __init__(self) -> None:
        self.stores: dict[str, MemoryBlobStore] = {}
        self.given: list[dict[str, str] | None] = []
        self.sdk_retries: int | None = None

    def __call__(
        self,
        location: str,
        credentials: Mapping[str, str] | None = None,
        *,
        sdk_retries: int | None = None,
    ) -> BlobStore:
        self.given.append(dict(credentials) if credentials is not None else None)
        self.sdk_retries = sdk_retries
        if location.startswith("/"):
            return LocalBlobStore(location)
        return self.stores.setdefault(location, MemoryBlobStore(location))


def test_a_cloud_vault_round_trip(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """vault create --save-credentials takes the secrets from the environment; register takes
    them from the file and keeps them in CAIRN_HOME (0600, not in registration.json); every later
    open uses them, through the retrying wrapper."""
    cloud = FakeCloud()
    monkeypatch.setattr(session, "open_store", cloud)
    env = {"AWS_ACCESS_KEY_ID": "AKIAFAKE", "AWS_SECRET_ACCESS_KEY": SECRET}
    creds = tmp_path / "vault.json"
    info = create_vault("s3://bucket/cairn", SystemClock(), save_credentials=creds, environ=env)
    expected = {"access_key_id": "AKIAFAKE", "secret_access_key": SECRET}
    assert cloud.given == [expected]
    saved = read_file(creds)
    assert (saved.vault, saved.vault_id, dict(saved.credentials)) == (
        "s3://bucket/cairn",
        info.vault_id,
        expected,
    )
    assert mode(creds) == 0o600

    home = Home(tmp_path / "home")
    done = register(
        home, None, SystemClock(), credentials_file=creds, machine="office",
        passphrase=PASSPHRASE, environ={},
    )  # fmt: skip
    assert done.kept_credentials and cloud.given[-1] == expected
    kept = home.credentials_file(info.vault_id)
    assert mode(kept) == 0o600 and read_file(kept) == saved
    assert SECRET not in home.registration_file.read_text()

    cloud.given.clear()
    repo = open_repository(home, SystemClock())
    assert cloud.given == [expected]
    assert isinstance(repo.store, RetryingBlobStore)
    assert cloud.sdk_retries == 0  # the wrapper is the one bound on attempts
    assert repo.store.location == "s3://bucket/cairn"
    assert check(repo, read_data=True).errors == []


def test_cloud_secrets_to_save_must_be_in_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cloud = FakeCloud()
    monkeypatch.setattr(session, "open_store", cloud)
    with pytest.raises(UsageError, match="AZURE_STORAGE_CONNECTION_STRING"):
        create_vault("azure://c/p", SystemClock(), save_credentials=tmp_path / "f", environ={})
    assert cloud.given == [] and not (tmp_path / "f").exists()  # refused before creating


def test_registering_with_a_location_keeps_the_environment_secrets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cloud = FakeCloud()
    monkeypatch.setattr(session, "open_store", cloud)
    env = {"AZURE_STORAGE_CONNECTION_STRING": f"AccountKey={SECRET}"}
    info = create_vault("azure://c/p", SystemClock(), environ=env)
    home = Home(tmp_path / "home")
    register(home, "azure://c/p", SystemClock(), passphrase=PASSPHRASE, environ=env)
    kept = home.credentials(info.vault_id)
    assert kept is not None and dict(kept.credentials) == {
        "connection_string": f"AccountKey={SECRET}"
    }
    # A scheduled run has no such environment: the kept secrets open the vault.
    cloud.given.clear()
    repo = open_repository(home, SystemClock())
    assert cloud.given == [{"connection_string": f"AccountKey={SECRET}"}]
    assert check(repo, read_data=True).errors == []


def test_a_local_vault_is_opened_without_the_retrying_wrapper(machine: Machine) -> None:
    assert isinstance(machine.repo().store, LocalBlobStore)
    machine.check_clean()
