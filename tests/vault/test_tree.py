"""Trees: canonical JSON listings of one directory; the id is the keyed hash of the plaintext."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from cairn.codec.keys import MasterKey
from cairn.core.clock import FixedClock
from cairn.core.errors import IntegrityError
from cairn.storage.memory import MemoryBlobStore
from cairn.vault.index import Index
from cairn.vault.packs import DATA, TREE
from cairn.vault.repository import Repository
from cairn.vault.tree import (
    KINDS,
    TREE_VERSION,
    Node,
    decode_entries,
    decode_tree,
    encode_entries,
    encode_tree,
    entry_name,
    put_bytes,
    stat_entry_json,
    xattrs_json,
)
from cairn.vault.vaultfile import StoreConfig

from .conftest import T0


def sample_nodes() -> list[Node]:
    return [
        Node(
            name=b"report.txt",
            kind="file",
            mode=0o640,
            uid=1000,
            gid=100,
            user="ann",
            group="users",
            mtime_ns=1_700_000_000_123_456_789,
            ctime_ns=1_700_000_001_000_000_000,
            inode=42,
            dev=2049,
            nlink=2,
            size=12_345,
            content=[b"\x01" * 32, b"\x02" * 32],
            xattrs={"user.comment": b"\x00\xffbinary", "user.a": b""},
        ),
        Node(name=b"caf\xe9-latin1", kind="file", content=[b"\x03" * 32], size=3),
        Node(name="naïve".encode(), kind="dir", mode=0o755, subtree=b"\x04" * 32),
        Node(name=b"link", kind="symlink", target=b"../target/\xff\xfe"),
        Node(name=b"utf8-link", kind="symlink", target="ünïcode/target".encode()),
        Node(name=b"tty", kind="chardev", rdev=0x0501),
        Node(name=b"pipe", kind="fifo"),
        Node(name=b"empty", kind="file"),
    ]


def by_name(nodes: list[Node]) -> dict[bytes, Node]:
    return {n.name: n for n in nodes}


def test_round_trip_keeps_every_field() -> None:
    nodes = sample_nodes()
    back = decode_tree(encode_tree(nodes))
    assert by_name(back) == by_name(nodes)


def test_non_utf8_names_and_targets_are_base64() -> None:
    doc = json.loads(encode_tree(sample_nodes()))
    entries = {e.get("name") or e.get("name_b64"): e for e in doc["entries"]}
    latin = base64.b64encode(b"caf\xe9-latin1").decode()
    assert "name" not in entries[latin]
    assert entries["naïve"]["name"] == "naïve"
    assert entries["link"]["target_b64"] == base64.b64encode(b"../target/\xff\xfe").decode()
    assert entries["utf8-link"]["target"] == "ünïcode/target"


def test_json_fields_are_the_documented_ones() -> None:
    doc = json.loads(encode_tree(sample_nodes()))
    assert set(doc) == {"v", "entries"}
    assert doc["v"] == TREE_VERSION == 1
    f = next(e for e in doc["entries"] if e.get("name") == "report.txt")
    assert f == {
        "name": "report.txt",
        "type": "file",
        "mode": 0o640,
        "uid": 1000,
        "gid": 100,
        "user": "ann",
        "group": "users",
        "mtime_ns": 1_700_000_000_123_456_789,
        "ctime_ns": 1_700_000_001_000_000_000,
        "inode": 42,
        "dev": 2049,
        "nlink": 2,
        "size": 12_345,
        "content": ["01" * 32, "02" * 32],
        "xattrs": {"user.a": "", "user.comment": base64.b64encode(b"\x00\xffbinary").decode()},
    }
    d = next(e for e in doc["entries"] if e.get("name") == "naïve")
    assert d["subtree"] == "04" * 32
    assert "content" not in d
    dev = next(e for e in doc["entries"] if e.get("name") == "tty")
    assert dev["rdev"] == 0x0501


def test_the_encoding_is_canonical_json() -> None:
    raw = encode_tree(sample_nodes())
    doc = json.loads(raw)
    assert raw == json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    assert raw.isascii()  # non-ASCII characters are escaped as \u sequences


def test_entries_are_sorted_by_name_bytes() -> None:
    names = [b"b", b"\xff", b"B", b"a", "é".encode(), b"A-", b"a b", b"\x01"]
    nodes = [Node(name=n, kind="fifo") for n in names]
    back = decode_tree(encode_tree(nodes))
    assert [n.name for n in back] == sorted(names)
    assert [n.name for n in back] == [
        b"\x01",
        b"A-",
        b"B",
        b"a",
        b"a b",
        b"b",
        "é".encode(),
        b"\xff",
    ]


@pytest.fixture(scope="module")
def tree_repo() -> Repository:
    return Repository(
        MemoryBlobStore(), "alpha", MasterKey.generate(), StoreConfig(), FixedClock(T0)
    )


def test_the_same_content_gives_the_same_id(tree_repo: Repository) -> None:
    nodes = sample_nodes()
    tid, plain = tree_repo.tree_id(nodes)
    assert tree_repo.tree_id(list(reversed(sample_nodes()))) == (tid, plain)
    assert tid == tree_repo.hasher.id_of(plain)


def test_any_change_gives_another_id(tree_repo: Repository) -> None:
    tid, _ = tree_repo.tree_id(sample_nodes())
    changed = sample_nodes()
    changed[0].mtime_ns += 1
    assert tree_repo.tree_id(changed)[0] != tid
    renamed = sample_nodes()
    renamed[6].name = b"pipe2"
    assert tree_repo.tree_id(renamed)[0] != tid


def test_another_key_gives_another_id(tree_repo: Repository) -> None:
    other = Repository(
        MemoryBlobStore(), "alpha", MasterKey.generate(), StoreConfig(), FixedClock(T0)
    )
    assert other.tree_id(sample_nodes())[0] != tree_repo.tree_id(sample_nodes())[0]


def test_every_kind_round_trips() -> None:
    nodes = [
        Node(name=k.encode(), kind=k, subtree=b"\x09" * 32 if k == "dir" else None) for k in KINDS
    ]
    assert [n.kind for n in decode_tree(encode_tree(nodes))] == sorted(KINDS)


def test_mode_is_reduced_to_permission_bits_on_reading() -> None:
    raw = json.dumps({"v": 1, "entries": [{"name": "x", "type": "file", "mode": 0o104755}]})
    assert decode_tree(raw.encode())[0].mode == 0o4755


def test_absent_optional_fields_take_defaults() -> None:
    (node,) = decode_tree(b'{"v":1,"entries":[{"name":"x","type":"fifo"}]}')
    assert node == Node(name=b"x", kind="fifo")


def entry(drop: tuple[str, ...] = (), **fields: object) -> bytes:
    e: dict[str, object] = {"name": "x", "type": "file"}
    e.update(fields)
    for key in drop:
        del e[key]
    return json.dumps({"v": 1, "entries": [e]}).encode()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b"{",
        b"\xff\xfe",
        b"[]",
        b"null",
        b'{"entries":[]}',
        b'{"v":2,"entries":[]}',
        b'{"v":"1","entries":[]}',
        b'{"v":1}',
        b'{"v":1,"entries":{}}',
        b'{"v":1,"entries":[1]}',
        b'{"v":1,"entries":["x"]}',
        b'{"v":1,"entries":[[]]}',
        b'{"v":1,"entries":[{"type":"file"}]}',
        entry(type="hardlink"),
        entry(type=None),
        entry(type=["file"]),
        entry(type="dir"),  # a directory needs a subtree
        entry(type="dir", subtree="zz"),
        entry(content=["xyz"]),
        entry(content=5),
        entry(content=None),
        entry(mode="rw"),
        entry(size=None),
        entry(drop=("name",), name_b64="***"),
        entry(drop=("name",), name_b64="/w"),  # base64 without its padding
        entry(xattrs={"user.a": "not base64!"}),
        entry(xattrs={"user.a": 5}),
    ],
)
def test_malformed_trees_are_integrity_errors(data: bytes) -> None:
    with pytest.raises(IntegrityError):
        decode_tree(data)


@pytest.mark.parametrize("xattrs", [[], "abc", 5])
def test_xattrs_that_are_not_an_object_are_integrity_errors(xattrs: object) -> None:
    with pytest.raises(IntegrityError):
        decode_tree(entry(xattrs=xattrs))


# --- raw entries (what a backup writes) -----------------------------------------------------------


def node_from_stat(name: bytes, kind: str, st: os.stat_result) -> Node:
    return Node(
        name=name,
        kind=kind,
        mode=stat.S_IMODE(st.st_mode),
        uid=st.st_uid,
        gid=st.st_gid,
        user="owner",
        group=None,
        mtime_ns=st.st_mtime_ns,
        ctime_ns=st.st_ctime_ns,
        inode=st.st_ino,
        dev=st.st_dev,
        nlink=st.st_nlink,
        size=st.st_size if kind == "file" else 0,
        rdev=st.st_rdev if kind in ("chardev", "blockdev") else 0,
    )


def test_stat_entries_are_written_exactly_as_nodes_are(tmp_path: Path) -> None:
    """A backup writes entries straight from lstat; they must equal Node.to_json, or an
    unchanged folder would get a new tree id."""
    (tmp_path / "f").write_bytes(b"data")
    (tmp_path / "d").mkdir()
    os.symlink("f", tmp_path / "l")
    os.mkfifo(tmp_path / "p")
    names = {"f": "file", "d": "dir", "l": "symlink", "p": "fifo"}
    for name, kind in names.items():
        st = os.lstat(tmp_path / name)
        entry = stat_entry_json(name.encode(), kind, st, "owner", None)
        node = node_from_stat(name.encode(), kind, st)
        if kind == "file":
            entry["content"] = [c.hex() for c in (b"\x01" * 32,)]
            node.content = [b"\x01" * 32]
            entry["xattrs"] = xattrs_json({"user.b": b"2", "user.a": b"\x00"})
            node.xattrs = {"user.b": b"2", "user.a": b"\x00"}
        if kind == "dir":
            entry["subtree"] = (b"\x02" * 32).hex()
            node.subtree = b"\x02" * 32
        if kind == "symlink":
            put_bytes(entry, "target", b"f")
            node.target = b"f"
        assert entry == node.to_json(), kind
        assert Node.from_json(entry) == node


def test_chardev_entries_keep_rdev() -> None:
    st = os.lstat("/dev/null")
    assert st.st_rdev != 0
    entry = stat_entry_json(b"null", "chardev", st, "owner", None)
    assert entry == node_from_stat(b"null", "chardev", st).to_json()
    assert entry["rdev"] == st.st_rdev


def test_encoded_entries_equal_the_encoded_tree() -> None:
    nodes = sample_nodes()
    ordered = sorted(nodes, key=lambda n: n.name)
    plain = encode_entries([n.to_json() for n in ordered])
    assert plain == encode_tree(nodes)
    assert [entry_name(e) for e in decode_entries(plain)] == [n.name for n in ordered]


def test_entry_names_decode_base64() -> None:
    assert entry_name({"name_b64": base64.b64encode(b"\xff").decode()}) == b"\xff"
    with pytest.raises(IntegrityError):
        entry_name({"type": "file"})


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[]",
        b'{"v":2,"entries":[]}',
        b'{"v":1,"entries":{}}',
        b'{"v":1,"entries":[1]}',
        b'{"v":1,"entries":[{"name":"x"}]}',
        b'{"v":1,"entries":[{"name":"x","type":"hardlink"}]}',
    ],
)
def test_malformed_raw_entries_are_integrity_errors(data: bytes) -> None:
    with pytest.raises(IntegrityError):
        decode_entries(data)


def test_load_tree_entries_reads_only_trees(memory_repo: Repository) -> None:
    nodes = sample_nodes()
    tid, plain = memory_repo.tree_id(nodes)
    assert memory_repo.entries_id(decode_entries(plain)) == (tid, plain)
    writer = memory_repo.pack_writer()
    writer.add(TREE, tid, plain)
    data_id = memory_repo.hasher.id_of(b"chunk")
    writer.add(DATA, data_id, b"chunk")
    info = writer.flush()
    assert info is not None
    index = Index()
    index.add_pack(info)
    assert memory_repo.load_tree_entries(index, tid) == json.loads(plain)["entries"]
    with pytest.raises(IntegrityError):
        memory_repo.load_tree_entries(index, data_id)  # a data blob is not a tree
    with pytest.raises(IntegrityError):
        memory_repo.load_tree_entries(index, b"\x00" * 32)  # not in the index
    with pytest.raises(IntegrityError):
        memory_repo.load_tree(index, data_id)
