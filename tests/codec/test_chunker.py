"""The keyed chunker: deterministic, streamed exactly like a whole buffer, dedup-friendly, keyed."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from blake3 import blake3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyfastcdc import FastCDC

from cairn.codec import chunker as chunker_module
from cairn.codec.chunker import AVG_SIZE, BUFFER_SIZE, MAX_SIZE, MIN_SIZE, Chunker, permutation

KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))

# Small sizes keep the streaming tests fast; pyfastcdc allows avg >= 256, min >= 64, max >= 1024.
SMALL = {"avg_size": 4096, "min_size": 1024, "max_size": 16384}


def random_bytes(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


@contextmanager
def buffer_size(n: int) -> Iterator[None]:
    """Run with a smaller streaming buffer, so tests cross many buffer boundaries quickly."""
    saved = chunker_module.BUFFER_SIZE
    chunker_module.BUFFER_SIZE = n
    try:
        yield
    finally:
        chunker_module.BUFFER_SIZE = saved


def streamed(chunker: Chunker, stream: io.RawIOBase | io.BytesIO, hint: int | None) -> list[bytes]:
    return [bytes(c) for c in chunker.chunks(stream, hint)]  # type: ignore[arg-type]


def sliced(chunker: Chunker, data: bytes) -> list[bytes]:
    return [data[o : o + n] for o, n in chunker.cut(data)]


class TrickleReader(io.RawIOBase):
    """A stream whose `readinto` returns at most `step` bytes, as pipes and sockets do."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = memoryview(data)
        self._pos = 0
        self._step = step
        self.largest_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: memoryview) -> int:  # type: ignore[override]
        n = min(len(b), self._step, len(self._data) - self._pos)
        b[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n

    def read(self, size: int = -1) -> bytes:
        data = super().read(size)
        assert data is not None
        self.largest_read = max(self.largest_read, len(data))
        return data

    def readall(self) -> bytes:
        data = super().readall()
        self.largest_read = max(self.largest_read, len(data))
        return data


def test_default_sizes_are_the_documented_ones() -> None:
    assert (MIN_SIZE, AVG_SIZE, MAX_SIZE) == (256 << 10, 1 << 20, 4 << 20)
    assert BUFFER_SIZE > MAX_SIZE


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


@pytest.mark.parametrize("hint", [None, 0, 10])
def test_empty_input_has_no_chunks(hint: int | None) -> None:
    chunker = Chunker(KEY_A, **SMALL)
    assert chunker.cut(b"") == []
    assert list(chunker.chunks(io.BytesIO(b""), hint)) == []


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


BUFFERS = [2 * 16384, 2 * 16384 + 1, 3 * 16384 - 7, 65536]
DELTAS = [-16385, -16384, -1025, -1024, -1, 0, 1, 1023, 1024, 1025, 16383, 16384, 16385]


@pytest.mark.parametrize("buffer", BUFFERS)
@pytest.mark.parametrize("delta", DELTAS)
@pytest.mark.parametrize("multiple", [1, 2, 3])
def test_streaming_equals_whole_buffer_around_buffer_boundaries(
    buffer: int, delta: int, multiple: int
) -> None:
    size = multiple * buffer + delta
    data = random_bytes(size, seed=size)
    with buffer_size(buffer):
        chunker = Chunker(KEY_A, **SMALL)
        expected = sliced(chunker, data)
        assert streamed(chunker, io.BytesIO(data), None) == expected
        assert streamed(chunker, io.BytesIO(data), size) == expected  # read whole when it fits


@pytest.mark.parametrize("hint_error", [-50_000, -1, 1, 50_000])
@pytest.mark.parametrize("size", [40_000, 65_535, 65_536, 65_537, 200_000])
def test_a_wrong_size_hint_changes_nothing(size: int, hint_error: int) -> None:
    """A file may grow or shrink between stat and read: the hint is only a hint."""
    data = random_bytes(size, seed=size + 1)
    with buffer_size(65536):
        chunker = Chunker(KEY_A, **SMALL)
        got = streamed(chunker, io.BytesIO(data), max(0, size + hint_error))
        assert got == sliced(chunker, data)


def test_streaming_equals_whole_buffer_with_default_sizes() -> None:
    chunker = Chunker(KEY_A)
    data = random_bytes(BUFFER_SIZE + (7 << 20) + 12345, seed=5)
    expected = sliced(chunker, data)
    assert len(expected) > 5
    assert streamed(chunker, io.BytesIO(data), None) == expected
    assert streamed(chunker, io.BytesIO(data), len(data)) == expected
    small = data[: 3 << 20]
    assert streamed(chunker, io.BytesIO(small), len(small)) == sliced(chunker, small)


def test_one_chunker_streams_many_files_in_turn() -> None:
    with buffer_size(40_000):
        chunker = Chunker(KEY_A, **SMALL)
        for seed in range(5):
            data = random_bytes(100_000 + seed * 999, seed=seed)
            assert streamed(chunker, io.BytesIO(data), None) == sliced(chunker, data)


def test_streaming_from_a_reader_that_returns_short_reads() -> None:
    data = random_bytes(300_000, seed=6)
    with buffer_size(40_000):
        chunker = Chunker(KEY_A, **SMALL)
        assert streamed(chunker, TrickleReader(data, 777), None) == sliced(chunker, data)
        assert streamed(chunker, TrickleReader(data, 777), 1000) == sliced(chunker, data)


def test_memory_stays_bounded_when_a_file_grew_after_its_size_hint() -> None:
    data = random_bytes(400_000, seed=13)
    with buffer_size(40_000):
        chunker = Chunker(KEY_A, **SMALL)
        reader = TrickleReader(data, 1 << 30)
        assert streamed(chunker, reader, 1000) == sliced(chunker, data)
        assert reader.largest_read <= 40_000


def test_the_buffer_holds_more_than_a_maximal_chunk_whatever_the_max() -> None:
    with buffer_size(SMALL["max_size"]):
        assert Chunker(KEY_A, **SMALL).buffer_size > SMALL["max_size"]
    big = Chunker(KEY_A, max_size=16 << 20)
    assert big.buffer_size > 16 << 20 and big.buffer_size >= BUFFER_SIZE


def old_streamed(data: bytes, buffer: int) -> list[bytes]:
    """The streaming of cairn 0.1.0 (before the permuted twin buffer), written out again: a
    buffer of two maximal chunks permuted whole on every pass, the last cut of an unfinished
    buffer left for the next pass."""
    table, cdc = permutation(KEY_A), FastCDC(AVG_SIZE, min_size=MIN_SIZE, max_size=MAX_SIZE)
    out: list[bytes] = []
    start = 0
    while start < len(data):
        window = data[start : start + buffer]
        eof = start + len(window) == len(data)
        if len(window) <= MIN_SIZE:
            cuts = [(0, len(window))]
        else:
            cuts = [(c.offset, c.length) for c in cdc.cut_buf(window.translate(table))]
        if not eof:
            cuts = cuts[:-1]
        for offset, length in cuts:
            out.append(window[offset : offset + length])
        if eof:
            break
        start += sum(length for _, length in cuts)
    return out


@pytest.mark.parametrize("seed", range(4))
def test_cuts_are_those_of_the_previous_implementation(seed: int) -> None:
    """Chunk ids must not change with the buffer: random files of random sizes, some with
    repeated and constant stretches (cuts at max size), against cairn 0.1.0's streaming."""
    rng = random.Random(seed)
    chunker = Chunker(KEY_A)
    for _ in range(3):
        parts = []
        for _ in range(rng.randrange(1, 6)):
            kind = rng.randrange(3)
            n = rng.randrange(1, 9 << 20)
            if kind == 0:
                parts.append(rng.randbytes(n))
            elif kind == 1:
                parts.append(bytes([rng.randrange(256)]) * n)
            else:
                parts.append((rng.randbytes(rng.randrange(1, 5000)) * (n // 1000 + 1))[:n])
        data = b"".join(parts)
        got = streamed(chunker, TrickleReader(data, rng.randrange(1, 3 << 20)), len(data))
        assert got == old_streamed(data, 2 * MAX_SIZE)
        assert got == sliced(chunker, data)


def test_sizes_the_chunker_cannot_use_are_refused() -> None:
    for avg, min_, max_ in [
        (8 << 20, 1 << 20, 16 << 20),
        (1 << 20, 2 << 20, 4 << 20),
        (1 << 20, 256 << 10, 32 << 20),
        (1 << 20, 256 << 10, 512 << 10),
    ]:
        with pytest.raises(ValueError, match="out of range"):
            Chunker(KEY_A, avg, min_, max_)


def test_streamed_chunks_are_views_into_one_reused_buffer() -> None:
    """The documented contract: a chunk must be used before the next one is asked for."""
    data = random_bytes(200_000, seed=7)
    with buffer_size(40_000):
        chunker = Chunker(KEY_A, **SMALL)
        views = list(chunker.chunks(io.BytesIO(data)))
        assert all(isinstance(v, memoryview) for v in views)
        buffers = {id(v.obj) for v in views}
        assert len(buffers) == 1
        again = list(chunker.chunks(io.BytesIO(data)))
        assert {id(v.obj) for v in again} == buffers  # allocated once per chunker


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.binary(min_size=0, max_size=20_000),
    repeat=st.integers(min_value=1, max_value=8),
    buffer_extra=st.integers(min_value=0, max_value=3000),
    hint=st.one_of(st.none(), st.integers(min_value=0, max_value=200_000)),
    key=st.binary(min_size=32, max_size=32),
)
def test_property_streaming_equals_whole_buffer(
    data: bytes, repeat: int, buffer_extra: int, hint: int | None, key: bytes
) -> None:
    payload = data * repeat
    with buffer_size(2 * 1024 + buffer_extra):
        chunker = Chunker(key, avg_size=256, min_size=64, max_size=1024)
        got = streamed(chunker, io.BytesIO(payload), hint)
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
    assert b"".join(streamed(chunker, io.BytesIO(data), None)) == data


def test_cut_accepts_bytearray() -> None:
    chunker = Chunker(KEY_A, **SMALL)
    data = random_bytes(100_000, seed=12)
    assert chunker.cut(bytearray(data)) == chunker.cut(data)


def test_the_permutation_is_the_documented_fisher_yates() -> None:
    """docs/format.md, "The keyed chunker", written out again."""
    stream = blake3(b"cairn chunker permutation", key=KEY_A).digest(length=1024)
    table = list(range(256))
    for i in range(255, 0, -1):
        j = int.from_bytes(stream[4 * i : 4 * i + 4], "little") % (i + 1)
        table[i], table[j] = table[j], table[i]
    assert permutation(KEY_A) == bytes(table)


def test_cuts_are_plain_fastcdc_on_the_permuted_bytes() -> None:
    data = random_bytes(3 << 20, seed=14)
    permuted = data.translate(permutation(KEY_A))
    cdc = FastCDC(4096, min_size=1024, max_size=16384)
    expected = [(c.offset, c.length) for c in cdc.cut_buf(permuted)]
    assert Chunker(KEY_A, **SMALL).cut(data) == expected
    assert [(c.offset, c.length) for c in cdc.cut_buf(data)] != expected
