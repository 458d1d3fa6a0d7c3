"""AES-256-GCM: nonce (12) || ciphertext || tag (16), the nonce random for every message."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cairn.codec.aead import NONCE_BYTES, OVERHEAD, TAG_BYTES, Aead
from cairn.core.errors import IntegrityError

KEY = bytes(range(32))


def test_layout_is_nonce_then_aes_gcm_ciphertext_and_tag() -> None:
    sealed = Aead(KEY).encrypt(b"hello", b"ad")
    assert (NONCE_BYTES, TAG_BYTES, OVERHEAD) == (12, 16, 28)
    assert len(sealed) == 5 + OVERHEAD
    # Any AES-GCM implementation opens it with the first 12 bytes as nonce.
    assert AESGCM(KEY).decrypt(sealed[:12], sealed[12:], b"ad") == b"hello"


def test_decrypts_what_a_plain_aes_gcm_made() -> None:
    nonce = b"\x07" * 12
    sealed = nonce + AESGCM(KEY).encrypt(nonce, b"payload", b"ad")
    assert Aead(KEY).decrypt(sealed, b"ad") == b"payload"


def test_round_trip_and_memoryview() -> None:
    aead = Aead(KEY)
    sealed = aead.encrypt(memoryview(b"abcdef")[1:4], b"x")
    assert aead.decrypt(memoryview(sealed), b"x") == b"bcd"


def test_nonces_are_fresh() -> None:
    aead = Aead(KEY)
    nonces = {bytes(aead.encrypt(b"m", b"")[:NONCE_BYTES]) for _ in range(200)}
    assert len(nonces) == 200


def test_wrong_ad_wrong_key_and_damage_are_refused() -> None:
    sealed = Aead(KEY).encrypt(b"message", b"ad")
    with pytest.raises(IntegrityError):
        Aead(KEY).decrypt(sealed, b"other")
    with pytest.raises(IntegrityError):
        Aead(bytes(32)).decrypt(sealed, b"ad")
    damaged = bytearray(sealed)
    damaged[-1] ^= 1
    with pytest.raises(IntegrityError):
        Aead(KEY).decrypt(bytes(damaged), b"ad")


@pytest.mark.parametrize("n", [0, 1, 12, 27])
def test_shorter_than_nonce_and_tag_is_refused(n: int) -> None:
    with pytest.raises(IntegrityError):
        Aead(KEY).decrypt(b"\x00" * n, b"")


@pytest.mark.parametrize("n", [0, 16, 31, 33, 64])
def test_only_32_byte_keys(n: int) -> None:
    with pytest.raises(ValueError):
        Aead(b"k" * n)
