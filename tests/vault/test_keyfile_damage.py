"""A damaged key file is found by check (with the master key, no passphrase) and, opening with a
passphrase, is called damaged rather than a wrong passphrase."""

from __future__ import annotations

import pytest

from cairn.codec.keys import MasterKey
from cairn.core.errors import IntegrityError, WrongPassphrase
from cairn.vault.keyfile import key_file_problem, make_key_file, open_key_file, unlock

from .conftest import PASSPHRASE, T0


@pytest.fixture(scope="module")
def sealed_key() -> tuple[MasterKey, str, bytes]:
    key = MasterKey.generate()
    key_id, data = make_key_file(key, PASSPHRASE, T0)
    return key, key_id, data


def flipped(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def test_a_sound_key_file_passes(sealed_key: tuple[MasterKey, str, bytes]) -> None:
    key, key_id, data = sealed_key
    assert key_file_problem(key_id, data, key) is None


def test_every_single_flipped_bit_is_found_with_the_master_key(
    sealed_key: tuple[MasterKey, str, bytes],
) -> None:
    key, key_id, data = sealed_key
    missed = [
        at for at in range(len(data)) if key_file_problem(key_id, flipped(data, at), key) is None
    ]
    assert missed == []


def test_a_key_file_of_another_master_key_is_found(
    sealed_key: tuple[MasterKey, str, bytes],
) -> None:
    _, key_id, data = sealed_key
    problem = key_file_problem(key_id, data, MasterKey.generate())
    assert problem is not None and "master key" in problem


@pytest.mark.parametrize("field", ["salt", "sealed", "iterations", "created"])
def test_the_right_passphrase_on_a_damaged_key_file_says_damaged(
    sealed_key: tuple[MasterKey, str, bytes], field: str
) -> None:
    key, key_id, data = sealed_key
    at = data.index(f'"{field}": '.encode()) + len(field) + 5  # inside the value
    bad = flipped(data, at)
    try:
        opened = open_key_file(key_id, bad, PASSPHRASE)
    except IntegrityError as e:
        assert "damaged" in str(e)
    else:  # the damage did not touch what opens the key ("created"): it still opens
        assert field == "created" and opened is not None and opened.secret == key.secret
        assert key_file_problem(key_id, bad, key) is not None
    if field != "created":
        with pytest.raises(IntegrityError, match=f"machines/alpha/keys/{key_id} is damaged"):
            unlock([(key_id, bad)], PASSPHRASE, "alpha")


def test_a_wrong_passphrase_is_still_wrong(sealed_key: tuple[MasterKey, str, bytes]) -> None:
    _, key_id, data = sealed_key
    with pytest.raises(WrongPassphrase):
        unlock([(key_id, data)], "not the passphrase at all", "alpha")
