"""The master key and its HKDF-SHA256 subkeys (the info strings are part of the format)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from cairn.codec.keys import (
    MASTER_KEY_BYTES,
    SESSION_ID_BYTES,
    MasterKey,
    hkdf,
    new_session_id,
)

SECRET = bytes(range(64))


def rfc5869_sha256(ikm: bytes, info: bytes, length: int = 32) -> bytes:
    """HKDF-SHA256 written out from RFC 5869, with no salt (a zero-filled one)."""
    prk = hmac.new(b"\x00" * 32, ikm, hashlib.sha256).digest()
    out, block, i = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([i]), hashlib.sha256).digest()
        out += block
        i += 1
    return out[:length]


def test_hkdf_matches_rfc_5869() -> None:
    assert hkdf(SECRET, b"some info") == rfc5869_sha256(SECRET, b"some info")
    assert hkdf(SECRET, b"x", 64) == rfc5869_sha256(SECRET, b"x", 64)


def test_subkeys_use_the_documented_info_strings() -> None:
    key = MasterKey(SECRET)
    assert key.id_key == rfc5869_sha256(SECRET, b"cairn id key")
    assert key.chunker_key == rfc5869_sha256(SECRET, b"cairn chunker key")
    session = bytes(range(16))
    seal_key = rfc5869_sha256(SECRET, b"cairn seal key")
    assert key.session_key(session) == rfc5869_sha256(seal_key, b"cairn session" + session)


def test_subkeys_differ_from_each_other_and_from_the_master_key() -> None:
    key = MasterKey(SECRET)
    keys = {key.id_key, key.chunker_key, key.session_key(bytes(16)), SECRET[:32], SECRET[32:]}
    assert len(keys) == 5
    assert all(len(k) == 32 for k in keys)


def test_session_keys_differ_per_session_id() -> None:
    key = MasterKey(SECRET)
    ids = [new_session_id() for _ in range(20)]
    assert len({key.session_key(s) for s in ids}) == 20
    assert key.session_key(ids[0]) == key.session_key(ids[0])


def test_different_master_keys_give_different_subkeys() -> None:
    a, b = MasterKey.generate(), MasterKey.generate()
    assert a.secret != b.secret
    assert a.id_key != b.id_key
    assert a.chunker_key != b.chunker_key
    assert a.session_key(bytes(16)) != b.session_key(bytes(16))


def test_sizes() -> None:
    assert (MASTER_KEY_BYTES, SESSION_ID_BYTES) == (64, 16)
    assert len(MasterKey.generate().secret) == 64
    assert len(new_session_id()) == 16
    assert new_session_id() != new_session_id()


@pytest.mark.parametrize("n", [0, 32, 63, 65])
def test_a_master_key_is_64_bytes(n: int) -> None:
    with pytest.raises(ValueError):
        MasterKey(b"\x01" * n)


@pytest.mark.parametrize("n", [0, 15, 17, 32])
def test_a_session_id_is_16_bytes(n: int) -> None:
    with pytest.raises(ValueError):
        MasterKey(SECRET).session_key(b"\x00" * n)
