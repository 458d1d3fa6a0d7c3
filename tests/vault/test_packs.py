"""Packs: sealed blobs, a sealed header, a plaintext trailer; named by the BLAKE3 of their bytes."""

from __future__ import annotations

import itertools
import random
import struct

import pytest
from blake3 import blake3

from cairn.codec.keys import MasterKey
from cairn.codec.sealing import Sealer, associated_data
from cairn.core.errors import IntegrityError
from cairn.vault.layout import MachineLayout
from cairn.vault.packs import (
    DATA,
    HEADER_VERSION,
    MAGIC,
    MAX_HEADER_ENTRIES,
    TRAILER_BYTES,
    TREE,
    PackEntry,
    PackInfo,
    PackWriter,
    blob_ad,
    check_entries,
    decode_header,
    encode_header,
    open_header,
    read_trailer,
)
from cairn.vault.repository import Repository

CHUNKS = [
    b"a compressible chunk " * 500,
    random.Random(1).randbytes(5000),
    b"x",
]


class Uploads:
    """Collects what a PackWriter uploads, in a MemoryBlobStore under the pack's layout name."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self.packs: dict[str, bytes] = {}

    def __call__(self, info: PackInfo, data: bytes | memoryview) -> None:
        self.packs[info.pack_id] = bytes(data)  # the writer reuses its buffer after the upload
        self.repo.upload_pack(info.pack_id, data)


def write_pack(repo: Repository, blobs: list[tuple[int, bytes]]) -> tuple[PackInfo, bytes]:
    uploads = Uploads(repo)
    writer = PackWriter(repo.key, uploads, level=3)
    for kind, plain in blobs:
        assert writer.add(kind, repo.hasher.id_of(plain), plain) is None
    info = writer.flush()
    assert info is not None
    return info, uploads.packs[info.pack_id]


def test_round_trip_through_trailer_and_header(memory_repo: Repository) -> None:
    blobs = [(DATA, c) for c in CHUNKS] + [(TREE, b'{"entries":[],"v":1}')]
    info, data = write_pack(memory_repo, blobs)
    assert info.size == len(data)
    session, header_len = read_trailer(data[-TRAILER_BYTES:], len(data))
    assert session == info.session_id
    header_offset = len(data) - TRAILER_BYTES - header_len
    sealer = Sealer(memory_repo.key.session_key(session))
    entries = open_header(sealer, session, data[header_offset : header_offset + header_len])
    assert tuple(entries) == info.entries
    check_entries(entries, header_offset)
    for entry, (kind, plain) in zip(entries, blobs, strict=True):
        assert entry.kind == kind
        assert entry.blob_id == memory_repo.hasher.id_of(plain)
        assert entry.raw_length == len(plain)
        sealed = data[entry.offset : entry.offset + entry.length]
        assert sealer.open(sealed, blob_ad(kind, entry.blob_id)) == plain
    # Blobs are laid end to end from offset 0, then the header.
    assert entries[0].offset == 0
    for a, b in itertools.pairwise(entries):
        assert b.offset == a.offset + a.length
    assert entries[-1].offset + entries[-1].length == header_offset


def test_repository_reads_the_header_back(memory_repo: Repository) -> None:
    info, data = write_pack(memory_repo, [(DATA, c) for c in CHUNKS])
    assert memory_repo.read_pack_header(info.pack_id) == info
    assert memory_repo.read_pack_header(info.pack_id, len(data)) == info


def test_a_pack_is_named_by_the_blake3_of_its_bytes(memory_repo: Repository) -> None:
    info, data = write_pack(memory_repo, [(DATA, CHUNKS[0])])
    assert info.pack_id == blake3(data).hexdigest()
    stored = memory_repo.store.get(f"machines/alpha/packs/{info.pack_id[:2]}/{info.pack_id}")
    assert stored == data
    assert Repository.verify_pack_bytes(info.pack_id, data)
    assert not Repository.verify_pack_bytes(info.pack_id, data[:-1] + b"!")


def test_trailer_layout(memory_repo: Repository) -> None:
    info, data = write_pack(memory_repo, [(DATA, CHUNKS[1])])
    assert TRAILER_BYTES == 16 + 4 + 8
    assert data.endswith(MAGIC) and MAGIC == b"CAIRNPK1"
    trailer = data[-TRAILER_BYTES:]
    assert trailer[:16] == info.session_id
    (header_len,) = struct.unpack("<I", trailer[16:20])
    # One entry: version u8 + count u32 + 45 bytes, sealed: nonce, flag byte, tag.
    assert header_len == 12 + 1 + (5 + 45) + 16


def test_header_encoding_layout() -> None:
    entry = PackEntry(TREE, b"\xab" * 32, 7, 300, 1000)
    raw = encode_header([entry])
    assert raw == struct.pack("<BI", HEADER_VERSION, 1) + bytes([1]) + b"\xab" * 32 + struct.pack(
        "<III", 7, 300, 1000
    )
    assert decode_header(raw) == [entry]
    assert decode_header(encode_header([])) == []


def test_a_blob_that_would_pass_the_target_size_starts_the_next_pack(
    memory_repo: Repository,
) -> None:
    uploads = Uploads(memory_repo)
    writer = PackWriter(memory_repo.key, uploads, level=3, target_bytes=3000)
    assert writer.flush() is None
    first = random.Random(2).randbytes(2000)
    assert writer.add(DATA, memory_repo.hasher.id_of(first), first) is None
    pending = writer.pending_bytes
    assert pending > 2000
    second = random.Random(3).randbytes(2000)
    info = writer.add(DATA, memory_repo.hasher.id_of(second), second)
    assert info is not None and len(info.entries) == 1
    assert info.entries[0].raw_length == 2000
    assert writer.pending_bytes == pending  # the second blob alone
    last = writer.flush()
    assert last is not None and len(last.entries) == 1
    assert writer.flush() is None
    assert list(uploads.packs) == [info.pack_id, last.pack_id]


def test_a_blob_larger_than_the_target_size_gets_a_pack_of_its_own(
    memory_repo: Repository,
) -> None:
    uploads = Uploads(memory_repo)
    writer = PackWriter(memory_repo.key, uploads, level=3, target_bytes=3000)
    small, large = b"small", random.Random(4).randbytes(10_000)
    assert writer.add(DATA, memory_repo.hasher.id_of(small), small) is None
    info = writer.add(DATA, memory_repo.hasher.id_of(large), large)
    assert info is not None and [e.raw_length for e in info.entries] == [5]
    last = writer.flush()
    assert last is not None and [e.raw_length for e in last.entries] == [10_000]
    assert memory_repo.read_pack_header(last.pack_id) == last


def test_the_buffer_grows_to_the_target_size_and_is_reused(memory_repo: Repository) -> None:
    uploads = Uploads(memory_repo)
    writer = PackWriter(memory_repo.key, uploads, level=3, target_bytes=100_000)
    rng = random.Random(5)
    for _ in range(40):
        blob = rng.randbytes(rng.randrange(1000, 30_000))
        writer.add(DATA, memory_repo.hasher.id_of(blob), blob, compressible=False)
    writer.flush()
    assert len(uploads.packs) > 5
    assert all(len(p) <= 100_000 + 2000 for p in uploads.packs.values())  # blobs, then the header
    assert len(writer._buf) <= 100_000 + 2000


def test_a_blob_opens_only_as_its_kind_and_id(memory_repo: Repository) -> None:
    info, data = write_pack(memory_repo, [(TREE, b'{"entries":[],"v":1}')])
    entry = info.entries[0]
    sealer = Sealer(memory_repo.key.session_key(info.session_id))
    sealed = data[entry.offset : entry.offset + entry.length]
    with pytest.raises(IntegrityError):
        sealer.open(sealed, blob_ad(DATA, entry.blob_id))
    with pytest.raises(IntegrityError):
        sealer.open(sealed, blob_ad(TREE, bytes(32)))
    with pytest.raises(IntegrityError):
        Sealer(memory_repo.key.session_key(bytes(16))).open(sealed, blob_ad(TREE, entry.blob_id))
    assert blob_ad(DATA, b"\x01") == b"cairn/data/\x01"
    assert blob_ad(TREE, b"\x01") == b"cairn/tree/\x01"


def test_the_header_is_bound_to_the_session(memory_repo: Repository) -> None:
    _, data = write_pack(memory_repo, [(DATA, CHUNKS[2])])
    session, header_len = read_trailer(data[-TRAILER_BYTES:], len(data))
    sealed = data[-TRAILER_BYTES - header_len : -TRAILER_BYTES]
    sealer = Sealer(memory_repo.key.session_key(session))
    with pytest.raises(IntegrityError):
        open_header(sealer, bytes(16), sealed)
    with pytest.raises(IntegrityError):
        sealer.open(sealed, associated_data(b"index", session))


# --- damaged packs --------------------------------------------------------------------------------


def put_pack(repo: Repository, pack_id: str, data: bytes) -> None:
    repo.store.put(repo.layout.pack(pack_id), data)


@pytest.mark.parametrize("cut", [1, 7, 8, 20, TRAILER_BYTES, TRAILER_BYTES + 1, 100])
def test_a_truncated_pack_is_refused(memory_repo: Repository, cut: int) -> None:
    info, data = write_pack(memory_repo, [(DATA, c) for c in CHUNKS])
    put_pack(memory_repo, info.pack_id, data[:-cut])
    with pytest.raises(IntegrityError):
        memory_repo.read_pack_header(info.pack_id)


@pytest.mark.parametrize("size", [0, 1, TRAILER_BYTES - 1, TRAILER_BYTES])
def test_a_pack_no_longer_than_a_trailer_is_refused(memory_repo: Repository, size: int) -> None:
    info, data = write_pack(memory_repo, [(DATA, CHUNKS[2])])
    put_pack(memory_repo, info.pack_id, data[-size:] if size else b"")
    with pytest.raises(IntegrityError):
        memory_repo.read_pack_header(info.pack_id)


@pytest.mark.parametrize("position", range(TRAILER_BYTES))
def test_a_garbled_trailer_is_refused(memory_repo: Repository, position: int) -> None:
    info, data = write_pack(memory_repo, [(DATA, c) for c in CHUNKS])
    damaged = bytearray(data)
    damaged[len(data) - TRAILER_BYTES + position] ^= 0x10
    put_pack(memory_repo, info.pack_id, bytes(damaged))
    with pytest.raises(IntegrityError):
        memory_repo.read_pack_header(info.pack_id)


def test_a_garbled_header_is_refused(memory_repo: Repository) -> None:
    info, data = write_pack(memory_repo, [(DATA, c) for c in CHUNKS])
    _, header_len = read_trailer(data[-TRAILER_BYTES:], len(data))
    start = len(data) - TRAILER_BYTES - header_len
    for position in range(start, start + header_len, 7):
        damaged = bytearray(data)
        damaged[position] ^= 0x01
        put_pack(memory_repo, info.pack_id, bytes(damaged))
        with pytest.raises(IntegrityError):
            memory_repo.read_pack_header(info.pack_id)


def test_read_trailer_refuses_bad_input() -> None:
    good = bytes(16) + struct.pack("<I", 10) + MAGIC
    assert read_trailer(good, 100) == (bytes(16), 10)
    with pytest.raises(IntegrityError):
        read_trailer(good[1:], 100)
    with pytest.raises(IntegrityError):
        read_trailer(good[:-1] + b"2", 100)
    with pytest.raises(IntegrityError):
        read_trailer(good, TRAILER_BYTES + 9)  # the header would start before the pack
    assert read_trailer(good, TRAILER_BYTES + 10) == (bytes(16), 10)
    huge = bytes(16) + struct.pack("<I", 0xFFFFFFFF) + MAGIC
    with pytest.raises(IntegrityError):
        read_trailer(huge, 1 << 20)


def forge_pack(key: MasterKey, entries: list[PackEntry], body: bytes) -> tuple[str, bytes]:
    """A pack with a validly sealed header that says whatever `entries` say."""
    session = bytes(range(16))
    sealer = Sealer(key.session_key(session))
    header = sealer.seal(encode_header(entries), associated_data(b"packheader", session))
    data = body + header + session + struct.pack("<I", len(header)) + MAGIC
    return blake3(data).hexdigest(), data


@pytest.mark.parametrize(
    ("offset", "length"),
    [(0, 101), (100, 1), (50, 51), (0xFFFFFFFF, 1), (1, 0xFFFFFFFF)],
)
def test_header_entries_pointing_past_the_data_are_refused(
    memory_repo: Repository, offset: int, length: int
) -> None:
    body = bytes(100)
    entries = [
        PackEntry(DATA, b"\x01" * 32, 0, 40, 40),
        PackEntry(DATA, b"\x02" * 32, offset, length, 9),
    ]
    pack_id, data = forge_pack(memory_repo.key, entries, body)
    put_pack(memory_repo, pack_id, data)
    with pytest.raises(IntegrityError, match="past"):
        memory_repo.read_pack_header(pack_id)


def test_header_entries_up_to_the_header_are_accepted(memory_repo: Repository) -> None:
    entries = [PackEntry(DATA, b"\x01" * 32, 0, 60, 60), PackEntry(TREE, b"\x02" * 32, 60, 40, 40)]
    pack_id, data = forge_pack(memory_repo.key, entries, bytes(100))
    put_pack(memory_repo, pack_id, data)
    assert memory_repo.read_pack_header(pack_id).entries == tuple(entries)


def test_check_entries_bounds() -> None:
    check_entries([PackEntry(DATA, bytes(32), 0, 10, 10)], 10)
    with pytest.raises(IntegrityError):
        check_entries([PackEntry(DATA, bytes(32), 1, 10, 10)], 10)


def test_decode_header_refuses_malformed_headers() -> None:
    one = encode_header([PackEntry(DATA, bytes(32), 0, 1, 1)])
    for bad in (
        b"",
        b"\x01\x00\x00",
        bytes([2]) + one[1:],  # unknown version
        one[:-1],  # truncated
        one + b"\x00",  # longer than its count says
        one[:1] + struct.pack("<I", 2) + one[5:],  # count larger than the entries
        one[:5] + bytes([7]) + one[6:],  # unknown blob type
        struct.pack("<BI", 1, MAX_HEADER_ENTRIES + 1),
    ):
        with pytest.raises(IntegrityError):
            decode_header(bad)


def test_pack_names_are_spread_over_256_folders() -> None:
    pack_id = "ab" + "0" * 62
    assert MachineLayout("m").pack(pack_id) == f"machines/m/packs/ab/{pack_id}"
