"""One machine's store: standalone objects, blobs, the index and its segments, recovery points."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from cairn.codec.keys import SESSION_ID_BYTES, MasterKey
from cairn.core.errors import EXIT_USAGE, IntegrityError, UsageError
from cairn.core.ids import random_id
from cairn.vault.index import Index, Location
from cairn.vault.objects import OBJECT_VERSION
from cairn.vault.packs import DATA, TREE, PackEntry, PackInfo
from cairn.vault.points import RecoveryPoint
from cairn.vault.repository import MAX_BLOB_BYTES, Repository
from cairn.vault.tree import Node

from .conftest import T0


def point(point_id: str | None = None, minutes: int = 0) -> RecoveryPoint:
    return RecoveryPoint(
        point_id or random_id(), T0 + timedelta(minutes=minutes), "alpha", "h", ["/"], bytes(32)
    )


def write_pack(repo: Repository, blobs: list[tuple[int, bytes]]) -> PackInfo:
    writer = repo.pack_writer()
    for kind, plain in blobs:
        writer.add(kind, repo.hasher.id_of(plain), plain)
    info = writer.flush()
    assert info is not None
    return info


# --- standalone objects ---------------------------------------------------------------------------


def test_object_layout_is_version_session_sealed(repo: Repository) -> None:
    p = point()
    repo.save_point(p)
    raw = repo.store.get(repo.layout.point(p.id))
    assert raw[0] == OBJECT_VERSION == 1
    assert raw[1 : 1 + SESSION_ID_BYTES] == repo.objects.session_id
    sealer = repo.objects.opener(repo.objects.session_id)
    ad = b"cairn/point/" + bytes.fromhex(p.id)
    assert sealer.open(raw[1 + SESSION_ID_BYTES :], ad).startswith(b"{")


def test_objects_of_another_session_open(repo: Repository) -> None:
    p = point()
    repo.save_point(p)
    later = Repository(repo.store, "alpha", repo.key, repo.config, repo.clock)
    assert later.objects.session_id != repo.objects.session_id
    assert later.load_point(p.id) == p


def test_an_object_of_another_machine_key_does_not_open(repo: Repository) -> None:
    p = point()
    repo.save_point(p)
    stranger = Repository(repo.store, "alpha", MasterKey.generate(), repo.config, repo.clock)
    with pytest.raises(IntegrityError):
        stranger.load_point(p.id)


@pytest.mark.parametrize("version", [0, 2, 255])
def test_an_unknown_object_version_is_refused(repo: Repository, version: int) -> None:
    sealed = repo.objects.seal(b"point", b"\x01", b"{}")
    with pytest.raises(IntegrityError, match="version"):
        repo.objects.open(b"point", b"\x01", bytes([version]) + sealed[1:])


@pytest.mark.parametrize("n", [0, 1, 16, 17, 30])
def test_a_truncated_object_is_refused(repo: Repository, n: int) -> None:
    sealed = repo.objects.seal(b"point", b"\x01", b"{}")
    with pytest.raises(IntegrityError):
        repo.objects.open(b"point", b"\x01", sealed[:n])


def test_a_point_stored_as_an_index_segment_does_not_open(repo: Repository) -> None:
    p = point()
    repo.save_point(p)
    repo.store.put(repo.layout.index(p.id), repo.store.get(repo.layout.point(p.id)))
    with pytest.raises(IntegrityError):
        repo.read_segment(p.id)
    index = repo.load_index()  # skipped and named, never trusted
    assert len(index) == 0 and p.id not in index.segments
    assert any(p.id[:16] in m for m in repo.problems)


def test_an_index_segment_stored_as_a_point_does_not_open(repo: Repository) -> None:
    seg = repo.write_segment([])
    repo.store.put(repo.layout.point(seg), repo.store.get(repo.layout.index(seg)))
    with pytest.raises(IntegrityError):
        repo.load_point(seg)


def test_a_lock_stored_as_a_point_does_not_open(repo: Repository) -> None:
    with repo.locks.acquire(exclusive=False, purpose="backup") as lock:
        lid = lock.record.lock_id
        repo.store.put(repo.layout.point(lid), repo.store.get(repo.layout.lock(lid)))
    with pytest.raises(IntegrityError):
        repo.load_point(lid)


def test_seal_json_is_canonical(repo: Repository) -> None:
    sealed = repo.objects.seal_json(b"job", b"\x02", {"b": 1, "a": [1, 2]})
    assert repo.objects.open(b"job", b"\x02", sealed) == b'{"a":[1,2],"b":1}'
    assert repo.objects.open_json(b"job", b"\x02", sealed) == {"a": [1, 2], "b": 1}
    bad = repo.objects.seal(b"job", b"\x02", b"{not json")
    with pytest.raises(IntegrityError, match="JSON"):
        repo.objects.open_json(b"job", b"\x02", bad)


def test_registration_round_trip(repo: Repository) -> None:
    repo.write_registration({"policy": None}, T0)
    doc = repo.read_registration()
    assert doc["machine"] == "alpha"
    assert doc["updated"] == T0.isoformat()
    assert doc["policy"] is None
    assert {"host", "os", "agent_version"} <= set(doc)
    other = Repository(repo.store, "beta", repo.key, repo.config, repo.clock)
    repo.store.put(other.layout.registration, repo.store.get(repo.layout.registration))
    with pytest.raises(IntegrityError):
        other.read_registration()  # sealed for machine "alpha"


def test_a_registration_that_is_not_an_object_is_refused(repo: Repository) -> None:
    repo.store.put(
        repo.layout.registration, repo.objects.seal_json(b"machine", b"alpha", ["a", "list"])
    )
    with pytest.raises(IntegrityError):
        repo.read_registration()


# --- blobs ----------------------------------------------------------------------------------------


def test_blobs_round_trip(repo: Repository) -> None:
    blobs = [(DATA, b"compressible " * 1000), (DATA, random.Random(1).randbytes(3000))]
    blobs.append((TREE, repo.tree_id([Node(name=b"a", kind="fifo")])[1]))
    info = write_pack(repo, blobs)
    index = Index()
    index.add_pack(info)
    for _, plain in blobs:
        assert repo.read_blob(index, repo.hasher.id_of(plain)) == plain
    tree_id = repo.hasher.id_of(blobs[2][1])
    assert repo.load_tree(index, tree_id) == [Node(name=b"a", kind="fifo")]


def test_a_tree_cannot_be_read_as_data(repo: Repository) -> None:
    plain = repo.tree_id([Node(name=b"a", kind="fifo")])[1]
    info = write_pack(repo, [(TREE, plain)])
    tid = repo.hasher.id_of(plain)
    loc = Index()
    loc.add_pack(info)
    real = loc.get(tid)
    assert real is not None and real.kind == TREE
    as_data = Location(
        real.pack_id, real.session_id, DATA, real.offset, real.length, real.raw_length
    )
    sealed = repo.store.get(repo.layout.pack(real.pack_id), real.offset, real.length)
    with pytest.raises(IntegrityError):
        repo.open_blob(as_data, tid, sealed)
    assert repo.open_blob(real, tid, sealed) == plain


def test_a_blob_whose_plaintext_does_not_hash_to_its_id_is_refused(repo: Repository) -> None:
    writer = repo.pack_writer()
    wrong_id = repo.hasher.id_of(b"what the index claims")
    writer.add(DATA, wrong_id, b"what is really stored")
    info = writer.flush()
    assert info is not None
    index = Index()
    index.add_pack(info)
    with pytest.raises(IntegrityError, match="does not match its id"):
        repo.read_blob(index, wrong_id)


def test_a_wrong_raw_length_is_refused(repo: Repository) -> None:
    plain = b"twelve bytes"
    info = write_pack(repo, [(DATA, plain)])
    index = Index()
    index.add_pack(info)
    bid = repo.hasher.id_of(plain)
    loc = index.get(bid)
    assert loc is not None
    sealed = repo.store.get(repo.layout.pack(loc.pack_id), loc.offset, loc.length)
    for raw in (len(plain) - 1, len(plain) + 1):
        lying = Location(loc.pack_id, loc.session_id, DATA, loc.offset, loc.length, raw)
        with pytest.raises(IntegrityError):
            repo.open_blob(lying, bid, sealed)


def test_blobs_missing_from_the_index_or_too_large_are_refused(repo: Repository) -> None:
    index = Index()
    with pytest.raises(IntegrityError, match="not in the index"):
        repo.read_blob(index, b"\x01" * 32)
    entry = PackEntry(DATA, b"\x02" * 32, 0, MAX_BLOB_BYTES + 1, 1)
    index.add_pack(PackInfo("ab" * 32, bytes(16), 0, (entry,)))
    with pytest.raises(IntegrityError, match="larger"):
        repo.read_blob(index, b"\x02" * 32)


# --- the index ------------------------------------------------------------------------------------


def test_segments_round_trip_through_the_store(repo: Repository) -> None:
    info = write_pack(repo, [(DATA, b"one"), (DATA, b"two")])
    seg = repo.write_segment([info], superseded=["cd" * 32])
    assert repo.list_segments() == [seg]
    packs, superseded = repo.read_segment(seg)
    assert [(p.pack_id, p.session_id, p.entries) for p in packs] == [
        (info.pack_id, info.session_id, info.entries)
    ]
    assert superseded == ["cd" * 32]
    index = repo.load_index()
    assert index.segments == {seg}
    assert repo.hasher.id_of(b"one") in index


def test_load_index_skips_superseded_segments(repo: Repository) -> None:
    old = write_pack(repo, [(DATA, b"old data")])
    new = write_pack(repo, [(DATA, b"new data")])
    first = repo.write_segment([old])
    second = repo.write_segment([new], superseded=[first])
    index = repo.load_index()
    assert index.segments == {second}
    assert set(index.packs) == {new.pack_id}
    assert repo.hasher.id_of(b"old data") not in index
    assert repo.hasher.id_of(b"new data") in index


def test_a_chain_of_superseded_segments(repo: Repository) -> None:
    a = repo.write_segment([write_pack(repo, [(DATA, b"a")])])
    b = repo.write_segment([write_pack(repo, [(DATA, b"b")])], superseded=[a])
    c = repo.write_segment([write_pack(repo, [(DATA, b"c")])], superseded=[b])
    d = repo.write_segment([write_pack(repo, [(DATA, b"d")])])
    index = repo.load_index()
    assert index.segments == {c, d}
    assert len(index) == 2


def test_names_that_are_not_ids_are_ignored(repo: Repository) -> None:
    repo.store.put(repo.layout.prefix("index") + "readme", b"x")
    repo.store.put(repo.layout.prefix("points") + "ab", b"x")
    repo.store.put(repo.layout.prefix("packs") + "ab/not-a-pack", b"x")
    assert repo.list_segments() == []
    assert repo.point_ids() == []
    assert repo.list_packs() == {}
    assert len(repo.load_index()) == 0


def test_recover_packs_indexes_a_pack_no_segment_names(repo: Repository) -> None:
    indexed = write_pack(repo, [(DATA, b"indexed")])
    repo.write_segment([indexed])
    orphan = write_pack(repo, [(DATA, b"orphan one"), (TREE, b'{"entries":[],"v":1}')])
    index = repo.load_index()
    assert repo.hasher.id_of(b"orphan one") not in index
    found = repo.recover_packs(index)
    assert [p.pack_id for p in found] == [orphan.pack_id]
    assert found[0].entries == orphan.entries
    assert repo.hasher.id_of(b"orphan one") in index
    # It was written down: a fresh load sees it, and there is nothing left to recover.
    again = repo.load_index()
    assert repo.hasher.id_of(b"orphan one") in again
    assert len(again.segments) == 2
    assert repo.recover_packs(again) == []
    assert len(repo.list_segments()) == 2


def test_recover_packs_leaves_damaged_orphans_alone(repo: Repository) -> None:
    orphan = write_pack(repo, [(DATA, b"will be damaged")])
    name = repo.layout.pack(orphan.pack_id)
    repo.store.put(name, repo.store.get(name)[:-3])
    index = repo.load_index()
    assert repo.recover_packs(index) == []
    assert repo.list_segments() == []


# --- recovery points ------------------------------------------------------------------------------


def test_list_points_is_sorted_by_time(repo: Repository) -> None:
    late, early, middle = point(minutes=20), point(minutes=0), point(minutes=10)
    for p in (late, early, middle):
        repo.save_point(p)
    assert [p.id for p in repo.list_points()] == [early.id, middle.id, late.id]


def test_find_point(repo: Repository) -> None:
    a = point("aa" + "11" * 31, minutes=0)
    b = point("ab" + "22" * 31, minutes=30)
    c = point("b0" + "33" * 31, minutes=10)
    for p in (a, b, c):
        repo.save_point(p)
    assert repo.find_point("latest") == b
    assert repo.find_point("aa") == a
    assert repo.find_point("AB2") == b
    assert repo.find_point(c.id) == c
    with pytest.raises(UsageError, match="2 recovery points") as err:
        repo.find_point("a")
    assert err.value.exit_code == EXIT_USAGE
    with pytest.raises(UsageError, match="no recovery point"):
        repo.find_point("ff")
    with pytest.raises(UsageError):
        repo.find_point("")


def test_latest_without_points(repo: Repository) -> None:
    with pytest.raises(UsageError, match="no recovery points"):
        repo.find_point("latest")
