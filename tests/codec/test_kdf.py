"""Argon2id key derivation, with parameters a hostile vault cannot abuse."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from cairn.codec.kdf import MIN_PASSPHRASE_CHARS, KdfParams, derive

# The smallest parameters check() allows: fast enough for many tests.
CHEAP = KdfParams("argon2id", b"s" * 16, iterations=1, memory_kib=8 * 1024, lanes=1)


def test_derive_is_deterministic_for_the_same_parameters() -> None:
    a = derive("correct horse battery staple", CHEAP)
    assert a == derive("correct horse battery staple", CHEAP)
    assert len(a) == 32


def test_derive_is_argon2id_with_the_stored_parameters() -> None:
    expected = Argon2id(
        salt=CHEAP.salt, length=32, iterations=1, lanes=1, memory_cost=8 * 1024
    ).derive("pässphrase with ünicode".encode())
    assert derive("pässphrase with ünicode", CHEAP) == expected


@pytest.mark.parametrize(
    "change",
    [
        {"salt": b"t" * 16},
        {"iterations": 2},
        {"memory_kib": 9 * 1024},
        {"lanes": 2},
    ],
)
def test_every_parameter_changes_the_key(change: dict[str, object]) -> None:
    other = dataclasses.replace(CHEAP, **change)  # type: ignore[arg-type]
    assert derive("passphrase-passphrase", other) != derive("passphrase-passphrase", CHEAP)


def test_a_different_passphrase_gives_a_different_key() -> None:
    assert derive("passphrase-number-1", CHEAP) != derive("passphrase-number-2", CHEAP)


def test_default_parameters() -> None:
    a = KdfParams.default()
    b = KdfParams.default()
    assert (a.algorithm, a.iterations, a.memory_kib, a.lanes) == ("argon2id", 4, 64 * 1024, 4)
    assert len(a.salt) == 16
    assert a.salt != b.salt
    a.check()


@pytest.mark.parametrize(
    "change",
    [
        {"memory_kib": 64 * 1024 * 1024},  # 64 GiB
        {"memory_kib": 4 * 1024 * 1024 + 1},
        {"memory_kib": 8 * 1024 - 1},
        {"iterations": 0},
        {"iterations": 65},
        {"iterations": 10**9},
        {"lanes": 0},
        {"lanes": 65},
        {"salt": b"short salt"},
        {"salt": b""},
        {"algorithm": "scrypt"},
        {"algorithm": "ARGON2ID"},
    ],
)
def test_check_refuses_hostile_or_weak_parameters(change: dict[str, object]) -> None:
    params = dataclasses.replace(CHEAP, **change)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        params.check()
    with pytest.raises(ValueError):
        derive("any passphrase at all", params)


def test_check_accepts_the_bounds() -> None:
    dataclasses.replace(CHEAP, iterations=64, lanes=64).check()
    dataclasses.replace(CHEAP, memory_kib=4 * 1024 * 1024).check()


def test_minimum_passphrase_length() -> None:
    assert MIN_PASSPHRASE_CHARS == 16


def test_the_argon2id_used_is_version_1_3() -> None:
    """RFC 9106 section 5.3 test vector, through the same library call derive() makes."""
    tag = Argon2id(
        salt=b"\x02" * 16,
        length=32,
        iterations=3,
        lanes=4,
        memory_cost=32,
        ad=b"\x04" * 12,
        secret=b"\x03" * 8,
    ).derive(b"\x01" * 32)
    assert tag.hex() == "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659"
