"""Sealing: flag byte, zstd kept only when it helps, AES-256-GCM with associated data, bounded output."""

from __future__ import annotations

import random

import pytest
import zstandard

from cairn.codec.aead import NONCE_BYTES, TAG_BYTES, Aead
from cairn.codec.compression import compress, decompress
from cairn.codec.sealing import (
    FLAG_STORED,
    FLAG_ZSTD,
    MAX_OBJECT_BYTES,
    Sealer,
    associated_data,
)
from cairn.core.errors import IntegrityError

KEY = bytes(range(32))
AD = associated_data(b"data", bytes(32))
COMPRESSIBLE = b"the quick brown fox jumps over the lazy dog\n" * 2000
RANDOM = random.Random(1).randbytes(100_000)


def frame_of(sealed: bytes, ad: bytes = AD) -> bytes:
    """The plaintext frame inside a sealed object (flag byte || payload)."""
    return Aead(KEY).decrypt(sealed, ad)


def test_associated_data_is_cairn_kind_id() -> None:
    assert associated_data(b"point", b"\x01\x02") == b"cairn/point/\x01\x02"
    assert associated_data(b"packheader", b"") == b"cairn/packheader/"


@pytest.mark.parametrize("data", [b"", b"x", b"short text", COMPRESSIBLE, RANDOM])
def test_round_trip(data: bytes) -> None:
    sealer = Sealer(KEY)
    assert sealer.open(sealer.seal(data, AD), AD) == data


def test_compressible_data_is_stored_compressed() -> None:
    sealed = Sealer(KEY).seal(COMPRESSIBLE, AD)
    assert len(sealed) < len(COMPRESSIBLE) // 10
    frame = frame_of(sealed)
    assert frame[0] == FLAG_ZSTD
    assert zstandard.ZstdDecompressor().decompress(frame[1:]) == COMPRESSIBLE


def test_random_data_is_stored_raw_with_fixed_overhead() -> None:
    sealed = Sealer(KEY).seal(RANDOM, AD)
    assert len(sealed) == NONCE_BYTES + 1 + len(RANDOM) + TAG_BYTES
    frame = frame_of(sealed)
    assert frame[0] == FLAG_STORED
    assert frame[1:] == RANDOM


def test_tiny_objects_are_not_compressed() -> None:
    data = b"a" * 64
    assert frame_of(Sealer(KEY).seal(data, AD))[0] == FLAG_STORED


def test_incompressible_flag_skips_compression() -> None:
    sealed = Sealer(KEY).seal(COMPRESSIBLE, AD, compressible=False)
    assert frame_of(sealed) == bytes([FLAG_STORED]) + COMPRESSIBLE


def test_sealing_twice_gives_different_bytes() -> None:
    sealer = Sealer(KEY)
    assert sealer.seal(b"same plaintext", AD) != sealer.seal(b"same plaintext", AD)


def test_seal_accepts_a_memoryview() -> None:
    sealer = Sealer(KEY)
    view = memoryview(COMPRESSIBLE)[10:5000]
    assert sealer.open(sealer.seal(view, AD), AD) == COMPRESSIBLE[10:5000]


def test_wrong_associated_data_is_refused() -> None:
    sealer = Sealer(KEY)
    sealed = sealer.seal(b"a chunk", associated_data(b"data", b"\x01" * 32))
    for other in (
        associated_data(b"tree", b"\x01" * 32),
        associated_data(b"data", b"\x02" * 32),
        associated_data(b"data", b"\x01" * 31),
        b"",
    ):
        with pytest.raises(IntegrityError):
            sealer.open(sealed, other)


def test_wrong_key_is_refused() -> None:
    sealed = Sealer(KEY).seal(b"secret", AD)
    with pytest.raises(IntegrityError):
        Sealer(bytes(32)).open(sealed, AD)


@pytest.mark.parametrize("data", [b"x" * 10, COMPRESSIBLE[:3000]], ids=["stored", "zstd"])
def test_a_flipped_byte_anywhere_is_refused(data: bytes) -> None:
    sealer = Sealer(KEY)
    sealed = sealer.seal(data, AD)
    for i in range(len(sealed)):
        damaged = bytearray(sealed)
        damaged[i] ^= 0x01
        with pytest.raises(IntegrityError):
            sealer.open(bytes(damaged), AD)


def test_truncated_or_extended_objects_are_refused() -> None:
    sealer = Sealer(KEY)
    sealed = sealer.seal(b"some object", AD)
    for n in range(len(sealed)):
        with pytest.raises(IntegrityError):
            sealer.open(sealed[:n], AD)
    with pytest.raises(IntegrityError):
        sealer.open(sealed + b"\x00", AD)


def test_a_stored_object_larger_than_max_size_is_refused() -> None:
    sealer = Sealer(KEY)
    sealed = sealer.seal(RANDOM, AD)
    assert sealer.open(sealed, AD, max_size=len(RANDOM)) == RANDOM
    with pytest.raises(IntegrityError):
        sealer.open(sealed, AD, max_size=len(RANDOM) - 1)


def test_a_zstd_frame_that_expands_beyond_max_size_is_refused() -> None:
    bomb = b"\x00" * (8 << 20)
    frame = bytes([FLAG_ZSTD]) + compress(bomb)
    sealed = Aead(KEY).encrypt(frame, AD)
    assert len(sealed) < 2000
    sealer = Sealer(KEY)
    with pytest.raises(IntegrityError):
        sealer.open(sealed, AD, max_size=1 << 20)
    assert sealer.open(sealed, AD, max_size=8 << 20) == bomb


def test_a_zstd_frame_without_content_size_is_refused() -> None:
    """A frame that does not say how big it is could expand without bound: refused."""
    packed = zstandard.ZstdCompressor(write_content_size=False).compress(b"\x00" * (4 << 20))
    sealed = Aead(KEY).encrypt(bytes([FLAG_ZSTD]) + packed, AD)
    with pytest.raises(IntegrityError):
        Sealer(KEY).open(sealed, AD, max_size=1 << 20)


def test_the_default_bound_is_64_mib() -> None:
    assert MAX_OBJECT_BYTES == 64 << 20
    frame = bytes([FLAG_ZSTD]) + compress(b"\x00" * ((64 << 20) + 1))
    with pytest.raises(IntegrityError):
        Sealer(KEY).open(Aead(KEY).encrypt(frame, AD), AD)


@pytest.mark.parametrize("flag", [2, 0xFF])
def test_an_unknown_frame_flag_is_refused(flag: int) -> None:
    sealed = Aead(KEY).encrypt(bytes([flag]) + b"payload", AD)
    with pytest.raises(IntegrityError, match="flag"):
        Sealer(KEY).open(sealed, AD)


def test_an_empty_frame_is_refused() -> None:
    with pytest.raises(IntegrityError):
        Sealer(KEY).open(Aead(KEY).encrypt(b"", AD), AD)


def test_a_damaged_zstd_frame_inside_a_valid_seal_is_refused() -> None:
    # zstd frames carry no checksum (the AEAD tag authenticates them); a broken magic must fail.
    packed = bytearray(compress(COMPRESSIBLE))
    packed[0] ^= 0xFF
    sealed = Aead(KEY).encrypt(bytes([FLAG_ZSTD]) + bytes(packed), AD)
    with pytest.raises(IntegrityError):
        Sealer(KEY).open(sealed, AD)


def test_decompress_refuses_a_claimed_size_over_the_bound() -> None:
    packed = compress(b"y" * 10_000)
    assert decompress(packed, 10_000) == b"y" * 10_000
    with pytest.raises(IntegrityError):
        decompress(packed, 9_999)


@pytest.mark.parametrize("garbage", [b"", b"\x28\xb5", b"not zstd at all"])
def test_decompress_refuses_garbage(garbage: bytes) -> None:
    with pytest.raises(IntegrityError):
        decompress(garbage, 1000)
