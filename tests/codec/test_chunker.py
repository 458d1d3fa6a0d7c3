"""The keyed chunker: deterministic, streamed exactly like a whole buffer, dedup-friendly, keyed."""

from __future__ import annotations

import io
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cairn.codec.chunker import AVG_SIZE, MAX_SIZE, MIN_SIZE, Chunker, permutation

KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))

# Small sizes keep the streaming tests fast; pyfastcdc allows avg >= 256, min >= 64, max >= 1024.
SMALL = {"avg_size": 4096, "min_size": 1024, "max_size": 16384}


def random_bytes(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def streamed(chunker: Chunker, data: bytes, buffer_size: int) -> list[bytes]:
    return [bytes(c) for c in chunker.chunks(io.BytesIO(data), buffer_size=buffer_size)]


def sliced(chunker: Chunker, data: bytes) -> list[bytes]:
    return [data[o : o + n] for o, n in chunker.cut(data)]


class TrickleReader(io.RawIOBase):
    """A stream whose `readinto` returns at most `step` bytes, as pipes and sockets do."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = memoryview(data)
        self._pos = 0
        self._step = step

    def readable(self) -> bool:
        return True

    def readinto(self, b: memoryview) -> int:  # type: ignore[override]
        n = min(len(b), self._step, len(self._data) - self._pos)
        b[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


def test_default_sizes_are_the_documented_ones() -> None:
    assert (MIN_SIZE, AVG_SIZE, MAX_SIZE) == (256 << 10, 1 << 20, 4 << 20)


def test_same_input_same_key_gives_the_same_cuts() -> None:
    data = random_bytes(6 << 20, seed=1)
    first = Chunker(KEY_A).cut(data)
    again = Chunker(KEY_A).cut(data)
    assert first == again
    assert len(first) > 1


def test_cuts_tile_the_input_exactly() -> None:
    data = random_bytes(200_000, seed=2)
    cuts = Chunker(KEY_A, **SMALL).cut(data)
    pos = 0
    for offset, length in cuts:
        assert offset == pos
        assert length > 0
        pos += length
    assert pos == len(data)


def test_empty_input_has_no_chunks() -> None:
    chunker = Chunker(KEY_A, **SMALL)
    assert chunker.cut(b"") == []
    assert list(chunker.chunks(io.BytesIO(b""), buffer_size=2 * SMALL["max_size"])) == []


def test_input_up_to_min_size_is_one_chunk() -> None:
    chunker = Chunker(KEY_A, **SMALL)
    for n in (1, 100, SMALL["min_size"]):
        assert chunker.cut(random_bytes(n, seed=n)) == [(0, n)]


def test_chunk_sizes_stay_within_min_and_max_except_the_last() -> None:
    chunker = Chunker(KEY_A, **SMALL)
    data = random_bytes(2_000_000, seed=3)
    lengths = [n for _, n in chunker.cut(data)]
    assert len(lengths) > 50
    assert all(SMALL["min_size"] <= n <= SMALL["max_size"] for n in lengths[:-1])
    assert 0 < lengths[-1] <= SMALL["max_size"]


def test_zeros_are_cut_at_max_size() -> None:
    """Constant input never matches the mask (or always would): the max bound must hold."""
    chunker = Chunker(KEY_A, **SMALL)
    lengths = [n for _, n in chunker.cut(bytes(200_000))]
    assert all(n <= SMALL["max_size"] for n in lengths)
    assert sum(lengths) == 200_000


def test_default_chunk_sizes_on_random_data() -> None:
    data = random_bytes(48 << 20, seed=4)
    lengths = [n for _, n in Chunker(KEY_A).cut(data)]
    body = lengths[:-1]
    assert all(MIN_SIZE <= n <= MAX_SIZE for n in body)
    mean = sum(body) / len(body)
    # FastCDC's real average is about avg + min (cut-point skipping): roughly 1 MiB, not 256 KiB
    # nor 4 MiB.
    assert 0.75 * AVG_SIZE <= mean <= 1.6 * AVG_SIZE, mean / AVG_SIZE


@pytest.mark.parametrize("buffer_size", [2 * 16384, 2 * 16384 + 1, 3 * 16384 - 7, 65536])
@pytest.mark.parametrize(
    "delta", [-16385, -16384, -1024, -1025, -1, 0, 1, 1023, 1024, 1025, 16383, 16384, 16385]
)
@pytest.mark.parametrize("multiple", [1, 2, 3])
def test_streaming_equals_whole_buffer_around_buffer_boundaries(
    buffer_size: int, delta: int, multiple: int
) -> None:
    chunker = Chunker(KEY_A, **SMALL)
    size = multiple * buffer_size + delta
    data = random_bytes(size, seed=size)
    assert streamed(chunker, data, buffer_size) == sliced(chunker, data)


def test_streaming_equals_whole_buffer_with_default_sizes() -> None:
    chunker = Chunker(KEY_A)
    data = random_bytes(20 << 20, seed=5)
    expected = sliced(chunker, data)
    assert len(expected) > 5
    # The smallest buffer allowed, and the default one (bigger than the input).
    assert streamed(chunker, data, 2 * MAX_SIZE) == expected
    assert [bytes(c) for c in chunker.chunks(io.BytesIO(data))] == expected


def test_streaming_from_a_reader_that_returns_short_reads() -> None:
    chunker = Chunker(KEY_A, **SMALL)
    data = random_bytes(300_000, seed=6)
    got = [bytes(c) for c in chunker.chunks(TrickleReader(data, 777), buffer_size=40_000)]
    assert got == sliced(chunker, data)


def test_a_buffer_smaller_than_two_max_chunks_is_refused() -> None:
    chunker = Chunker(KEY_A, **SMALL)
    with pytest.raises(ValueError):
        next(chunker.chunks(io.BytesIO(b"x" * 100), buffer_size=2 * SMALL["max_size"] - 1))


def test_streamed_chunks_are_views_into_one_reused_buffer() -> None:
    """The documented contract: a chunk must be used before the next one is asked for."""
    chunker = Chunker(KEY_A, **SMALL)
    data = random_bytes(200_000, seed=7)
    views = list(chunker.chunks(io.BytesIO(data), buffer_size=2 * SMALL["max_size"]))
    assert all(isinstance(v, memoryview) for v in views)
    assert len({id(v.obj) for v in views}) == 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.binary(min_size=0, max_size=20_000),
    repeat=st.integers(min_value=1, max_value=8),
    buffer_extra=st.integers(min_value=0, max_value=3000),
    key=st.binary(min_size=32, max_size=32),
)
def test_property_streaming_equals_whole_buffer(
    data: bytes, repeat: int, buffer_extra: int, key: bytes
) -> None:
    chunker = Chunker(key, avg_size=256, min_size=64, max_size=1024)
    payload = data * repeat
    got = streamed(chunker, payload, 2 * 1024 + buffer_extra)
    assert got == sliced(chunker, payload)
    assert b"".join(got) == payload


def test_an_insertion_near_the_start_leaves_most_later_chunks_unchanged() -> None:
    chunker = Chunker(KEY_A)
    data = random_bytes(40 << 20, seed=8)
    edited = data[:1000] + b"a few inserted bytes" + data[1000:]
    before = set(sliced(chunker, data))
    after = sliced(chunker, edited)
    assert len(after) > 10
    shared = sum(1 for c in after if c in before)
    # Only the chunk holding the insertion (and at most one after it) may differ.
    assert shared >= len(after) - 2


def test_an_insertion_leaves_later_chunks_unchanged_with_small_sizes() -> None:
    chunker = Chunker(KEY_A, **SMALL)
    data = random_bytes(1_000_000, seed=9)
    edited = data[:5000] + b"X" + data[5000:]
    before = set(sliced(chunker, data))
    after = sliced(chunker, edited)
    shared = sum(1 for c in after if c in before)
    assert shared >= len(after) - 2
    assert len(after) > 100


def test_two_keys_cut_at_different_points() -> None:
    data = random_bytes(16 << 20, seed=10)
    a = Chunker(KEY_A).cut(data)
    b = Chunker(KEY_B).cut(data)
    assert a != b
    # Not just shifted somewhere: most boundaries differ.
    ends_a = {o + n for o, n in a[:-1]}
    ends_b = {o + n for o, n in b[:-1]}
    assert len(ends_a & ends_b) <= len(ends_a) // 2


def test_the_permutation_is_a_secret_bijection_of_bytes() -> None:
    a = permutation(KEY_A)
    b = permutation(KEY_B)
    assert sorted(a) == list(range(256))
    assert sorted(b) == list(range(256))
    assert a != b
    assert a != bytes(range(256))
    assert permutation(KEY_A) == a


def test_chunks_are_slices_of_the_original_bytes_not_the_permuted_ones() -> None:
    chunker = Chunker(KEY_A, **SMALL)
    data = random_bytes(100_000, seed=11)
    assert b"".join(sliced(chunker, data)) == data
    assert b"".join(streamed(chunker, data, 40_000)) == data


def test_cut_accepts_bytearray_and_memoryview() -> None:
    chunker = Chunker(KEY_A, **SMALL)
    data = random_bytes(100_000, seed=12)
    expected = chunker.cut(data)
    assert chunker.cut(bytearray(data)) == expected
    assert chunker.cut(memoryview(data)) == expected
