"""Index segments: a binary listing of packs and their blobs, and the segments it supersedes."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.core.errors import IntegrityError
from cairn.vault.index import SEGMENT_VERSION, Index, Location, decode_segment, encode_segment
from cairn.vault.packs import DATA, TREE, PackEntry, PackInfo


def pack(n: int, entries: int) -> PackInfo:
    return PackInfo(
        pack_id=f"{n:02x}" * 32,
        session_id=bytes([n]) * 16,
        size=0,
        entries=tuple(
            PackEntry(TREE if i % 3 == 0 else DATA, bytes([n, i]) * 16, 100 * i, 90, 200 + i)
            for i in range(entries)
        ),
    )


PACKS = [pack(1, 3), pack(2, 0), pack(3, 5)]
SUPERSEDED = ["aa" * 32, "0123456789abcdef" * 4]


def test_round_trip_with_superseded_segments() -> None:
    packs, superseded = decode_segment(encode_segment(PACKS, SUPERSEDED))
    assert packs == PACKS  # size is not stored: 0 on both sides here
    assert superseded == SUPERSEDED


def test_round_trip_of_an_empty_segment() -> None:
    assert decode_segment(encode_segment([])) == ([], [])


def test_the_size_of_a_pack_is_not_stored() -> None:
    sized = PackInfo("ab" * 32, bytes(16), 12345, ())
    (back,), _ = decode_segment(encode_segment([sized]))
    assert back.size == 0
    assert (back.pack_id, back.session_id, back.entries) == (sized.pack_id, sized.session_id, ())


def test_byte_layout() -> None:
    p = pack(7, 1)
    e = p.entries[0]
    data = encode_segment([p], ["cd" * 32])
    expected = (
        struct.pack("<BI", SEGMENT_VERSION, 1)
        + bytes.fromhex(p.pack_id)
        + p.session_id
        + struct.pack("<I", 1)
        + struct.pack("<B32sIII", e.kind, e.blob_id, e.offset, e.length, e.raw_length)
        + struct.pack("<I", 1)
        + bytes.fromhex("cd" * 32)
    )
    assert data == expected
    assert len(data) == 5 + (32 + 16 + 4) + 45 + 4 + 32


def test_every_truncation_is_an_integrity_error() -> None:
    data = encode_segment(PACKS, SUPERSEDED)
    for n in range(len(data)):
        with pytest.raises(IntegrityError):
            decode_segment(data[:n])


def test_extra_bytes_are_an_integrity_error() -> None:
    with pytest.raises(IntegrityError):
        decode_segment(encode_segment(PACKS, SUPERSEDED) + b"\x00")


def test_an_unknown_version_is_refused() -> None:
    data = encode_segment(PACKS)
    for version in (0, 2, 255):
        with pytest.raises(IntegrityError, match="version"):
            decode_segment(bytes([version]) + data[1:])


def test_an_unknown_blob_type_is_refused() -> None:
    data = bytearray(encode_segment([pack(1, 1)]))
    data[5 + 52] = 9  # the first entry's type byte
    with pytest.raises(IntegrityError, match="type"):
        decode_segment(bytes(data))


@pytest.mark.parametrize(
    "data",
    [
        struct.pack("<BI", 1, 0xFFFFFFFF),  # claims 4 billion packs, has none
        struct.pack("<BI", 1, 1) + bytes(52),  # a pack but no superseded count
        struct.pack("<BI", 1, 1) + bytes(48) + struct.pack("<I", 0xFFFFFFFF) + bytes(4),
        struct.pack("<BII", 1, 0, 0xFFFFFFFF),  # claims superseded ids it does not have
        struct.pack("<BII", 1, 0, 1) + bytes(31),
    ],
)
def test_counts_larger_than_the_data_are_refused(data: bytes) -> None:
    with pytest.raises(IntegrityError):
        decode_segment(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_property_arbitrary_bytes_decode_or_raise_integrity_error(data: bytes) -> None:
    try:
        decode_segment(data)
    except IntegrityError:
        pass


@settings(max_examples=100, deadline=None)
@given(
    st.data(),
    st.integers(min_value=0, max_value=300),
)
def test_property_damaging_a_valid_segment_never_raises_anything_else(
    data: st.DataObject, cut: int
) -> None:
    encoded = bytearray(encode_segment(PACKS, SUPERSEDED))
    i = data.draw(st.integers(min_value=0, max_value=len(encoded) - 1))
    encoded[i] = data.draw(st.integers(min_value=0, max_value=255))
    try:
        decode_segment(bytes(encoded[: len(encoded) - cut]))
    except IntegrityError:
        pass


def test_index_merges_packs_and_the_first_location_wins() -> None:
    index = Index()
    a = PackInfo("aa" * 32, b"\x01" * 16, 0, (PackEntry(DATA, b"\x05" * 32, 0, 10, 20),))
    b = PackInfo(
        "bb" * 32,
        b"\x02" * 16,
        0,
        (PackEntry(DATA, b"\x05" * 32, 50, 11, 20), PackEntry(TREE, b"\x06" * 32, 0, 9, 9)),
    )
    index.add_pack(a)
    index.add_pack(b)
    assert len(index) == 2
    assert b"\x05" * 32 in index and b"\x07" * 32 not in index
    assert index.get(b"\x05" * 32) == Location("aa" * 32, b"\x01" * 16, DATA, 0, 10, 20)
    assert index.get(b"\x06" * 32) == Location("bb" * 32, b"\x02" * 16, TREE, 0, 9, 9)
    assert index.get(b"\x07" * 32) is None
    assert set(index.packs) == {"aa" * 32, "bb" * 32}
    assert set(index.ids()) == {b"\x05" * 32, b"\x06" * 32}


def test_adding_the_same_pack_twice_changes_nothing() -> None:
    index = Index()
    a = PackInfo("aa" * 32, b"\x01" * 16, 0, (PackEntry(DATA, b"\x05" * 32, 0, 10, 20),))
    index.add_pack(a)
    index.add_pack(a)
    assert len(index) == 1
    assert list(index.packs) == ["aa" * 32]
