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


@pytest.mark.parametrize("size", [0, 100, 64 << 10, (300 << 10) + 7])
def test_sealing_parts_into_a_buffer_is_plain_aes_gcm_of_their_concatenation(size: int) -> None:
    """Large messages are encrypted part by part with a streaming cipher: the same bytes."""
    aead = Aead(KEY)
    parts = (b"\x01", bytes(range(256)) * (size // 256) + b"x" * (size % 256))
    out = bytearray(OVERHEAD + 1 + size + 5)
    n = aead.seal_into(parts, b"ad", memoryview(out))
    assert n == OVERHEAD + 1 + size
    sealed = bytes(out[:n])
    assert AESGCM(KEY).decrypt(sealed[:12], sealed[12:], b"ad") == b"".join(parts)
    assert aead.matches(sealed, b"ad", parts)
    assert aead.matches(sealed, b"ad", (b"".join(parts),))


@pytest.mark.parametrize("size", [100, (300 << 10) + 7])
def test_matches_refuses_other_bytes_a_damaged_message_and_another_ad(size: int) -> None:
    aead = Aead(KEY)
    message = bytes(range(256)) * (size // 256 + 1)
    sealed = aead.encrypt(message, b"ad")
    other = bytearray(message)
    other[-1] ^= 1
    assert aead.matches(sealed, b"ad", (message,))
    assert not aead.matches(sealed, b"ad", (bytes(other),))
    assert not aead.matches(sealed, b"ad", (message[:-1],))
    assert not aead.matches(sealed, b"other", (message,))
    damaged = bytearray(sealed)
    damaged[20] ^= 1
    assert not aead.matches(damaged, b"ad", (message,))


def test_seal_into_refuses_a_buffer_too_small() -> None:
    with pytest.raises(ValueError, match="too small"):
        Aead(KEY).seal_into((b"abc",), b"ad", memoryview(bytearray(OVERHEAD + 2)))
