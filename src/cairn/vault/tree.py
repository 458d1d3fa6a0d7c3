"""Trees: the sealed listing of one directory. One tree per directory; its id is the keyed hash of
its plaintext, so an unchanged directory yields the same tree and is stored once.

Plaintext: UTF-8 JSON, keys sorted, no spaces: {"v": 1, "entries": [node, ...]}, entries sorted by
name bytes. A node's fields (absent when empty or not applicable):
    name | name_b64     the entry's name (name_b64 when the raw name is not valid UTF-8)
    type                file, dir, symlink, fifo, socket, chardev, blockdev
    mode                permission bits (S_IMODE)
    uid, gid, user, group
    mtime_ns, ctime_ns, inode, dev, nlink, size
    content             file: chunk ids, hex, in order
    subtree             dir: the tree id, hex
    target | target_b64 symlink target
    rdev                chardev / blockdev
    xattrs              {name: base64 value}
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from typing import Any

from cairn.core.errors import IntegrityError

TREE_VERSION = 1
KINDS = ("file", "dir", "symlink", "fifo", "socket", "chardev", "blockdev")


def put_bytes(d: dict[str, Any], key: str, value: bytes) -> None:
    try:
        d[key] = value.decode("utf-8")
    except UnicodeDecodeError:
        d[key + "_b64"] = base64.b64encode(value).decode()


def _get_bytes(d: dict[str, Any], key: str) -> bytes:
    if key in d:
        return str(d[key]).encode("utf-8")
    if key + "_b64" in d:
        return base64.b64decode(d[key + "_b64"], validate=True)
    raise IntegrityError(f"a tree entry has no {key}")


@dataclass(slots=True)
class Node:
    name: bytes
    kind: str
    mode: int = 0
    uid: int = 0
    gid: int = 0
    user: str | None = None
    group: str | None = None
    mtime_ns: int = 0
    ctime_ns: int = 0
    inode: int = 0
    dev: int = 0
    nlink: int = 1
    size: int = 0
    content: list[bytes] = field(default_factory=list)
    subtree: bytes | None = None
    target: bytes | None = None
    rdev: int = 0
    xattrs: dict[str, bytes] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": self.kind, "mode": self.mode, "uid": self.uid, "gid": self.gid}
        put_bytes(d, "name", self.name)
        if self.user is not None:
            d["user"] = self.user
        if self.group is not None:
            d["group"] = self.group
        d.update(mtime_ns=self.mtime_ns, ctime_ns=self.ctime_ns, inode=self.inode, dev=self.dev)
        d.update(nlink=self.nlink, size=self.size)
        if self.kind == "file":
            d["content"] = [c.hex() for c in self.content]
        if self.subtree is not None:
            d["subtree"] = self.subtree.hex()
        if self.target is not None:
            put_bytes(d, "target", self.target)
        if self.rdev:
            d["rdev"] = self.rdev
        if self.xattrs:
            d["xattrs"] = {k: base64.b64encode(v).decode() for k, v in sorted(self.xattrs.items())}
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Node:
        try:
            kind = d["type"]
            if kind not in KINDS:
                raise IntegrityError(f"a tree entry has an unknown type {kind!r}")
            node = cls(
                name=_get_bytes(d, "name"),
                kind=kind,
                mode=int(d.get("mode", 0)) & 0o7777,
                uid=int(d.get("uid", 0)),
                gid=int(d.get("gid", 0)),
                user=d.get("user"),
                group=d.get("group"),
                mtime_ns=int(d.get("mtime_ns", 0)),
                ctime_ns=int(d.get("ctime_ns", 0)),
                inode=int(d.get("inode", 0)),
                dev=int(d.get("dev", 0)),
                nlink=int(d.get("nlink", 1)),
                size=int(d.get("size", 0)),
                content=[bytes.fromhex(c) for c in d.get("content", [])],
                subtree=bytes.fromhex(d["subtree"]) if "subtree" in d else None,
                rdev=int(d.get("rdev", 0)),
                xattrs={
                    k: base64.b64decode(v, validate=True) for k, v in d.get("xattrs", {}).items()
                },
            )
            if "target" in d or "target_b64" in d:
                node.target = _get_bytes(d, "target")
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise IntegrityError(f"a tree entry is malformed: {e}") from None
        if kind == "dir" and node.subtree is None:
            raise IntegrityError("a directory entry has no subtree")
        return node


Entry = dict[str, Any]


def entry_name(d: Entry) -> bytes:
    return _get_bytes(d, "name")


def stat_entry_json(
    name: bytes, kind: str, st: os.stat_result, user: str | None, group: str | None
) -> Entry:
    """A tree entry from an lstat result, exactly as `Node.to_json` writes one (without content,
    subtree, target or xattrs, which the caller adds)."""
    d: Entry = {
        "type": kind,
        "mode": st.st_mode & 0o7777,
        "uid": st.st_uid,
        "gid": st.st_gid,
        "mtime_ns": st.st_mtime_ns,
        "ctime_ns": st.st_ctime_ns,
        "inode": st.st_ino,
        "dev": st.st_dev,
        "nlink": st.st_nlink,
        "size": st.st_size if kind == "file" else 0,
    }
    put_bytes(d, "name", name)
    if user is not None:
        d["user"] = user
    if group is not None:
        d["group"] = group
    if kind in ("chardev", "blockdev") and st.st_rdev:
        d["rdev"] = st.st_rdev
    return d


def xattrs_json(values: dict[str, bytes]) -> dict[str, str]:
    return {k: base64.b64encode(v).decode() for k, v in sorted(values.items())}


def encode_entries(entries: list[Entry]) -> bytes:
    """Entries already in name-bytes order (the walk's order) -> tree plaintext."""
    doc = {"v": TREE_VERSION, "entries": entries}
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def decode_entries(data: bytes) -> list[Entry]:
    """The raw entries of a tree, checked just enough to be compared and reused."""
    try:
        doc = json.loads(data)
    except ValueError:
        raise IntegrityError("a tree is not valid JSON") from None
    if not isinstance(doc, dict) or doc.get("v") != TREE_VERSION:
        raise IntegrityError("a tree has an unknown version")
    entries = doc.get("entries")
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and e.get("type") in KINDS for e in entries
    ):
        raise IntegrityError("a tree's entries are malformed")
    return entries


def encode_tree(nodes: list[Node]) -> bytes:
    ordered = sorted(nodes, key=lambda n: n.name)
    doc = {"v": TREE_VERSION, "entries": [n.to_json() for n in ordered]}
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def decode_tree(data: bytes) -> list[Node]:
    return [Node.from_json(e) for e in decode_entries(data)]
