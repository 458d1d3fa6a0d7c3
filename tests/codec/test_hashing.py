"""Keyed BLAKE3 names chunks and trees; plain BLAKE3 names packs."""

from __future__ import annotations

import pytest
from blake3 import blake3

from cairn.codec.hashing import ID_BYTES, IdHasher, content_hash

KEY = bytes(range(32))


def test_content_hash_is_plain_blake3() -> None:
    # The published BLAKE3 digest of the empty input.
    assert (
        content_hash(b"").hex()
        == "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
    )
    assert content_hash(memoryview(b"abc")) == blake3(b"abc").digest()


def test_ids_are_keyed_blake3() -> None:
    hasher = IdHasher(KEY)
    assert hasher.id_of(b"chunk") == blake3(b"chunk", key=KEY).digest()
    assert len(hasher.id_of(b"chunk")) == ID_BYTES == 32


def test_ids_reveal_nothing_without_the_key() -> None:
    hasher = IdHasher(KEY)
    assert hasher.id_of(b"chunk") != content_hash(b"chunk")
    assert hasher.id_of(b"chunk") != IdHasher(bytes(32)).id_of(b"chunk")


def test_ids_are_deterministic_and_distinguish_content() -> None:
    hasher = IdHasher(KEY)
    assert hasher.id_of(b"a") == IdHasher(KEY).id_of(memoryview(b"a"))
    assert hasher.id_of(b"a") != hasher.id_of(b"b")


@pytest.mark.parametrize("n", [0, 16, 31, 33])
def test_the_id_key_is_32_bytes(n: int) -> None:
    with pytest.raises(ValueError):
        IdHasher(b"k" * n)
