"""List what a recovery point holds, under a path, recursively."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

from cairn.core.errors import UsageError
from cairn.vault.index import Index
from cairn.vault.points import RecoveryPoint
from cairn.vault.repository import Repository
from cairn.vault.tree import Node


@dataclass(frozen=True, slots=True)
class Listed:
    path: str
    node: Node


def _find(repo: Repository, index: Index, root: bytes, path: str) -> tuple[bytes, Node]:
    parts = [p for p in os.fsencode(path).split(b"/") if p]
    node = Node(name=b"", kind="dir", subtree=root)
    for part in parts:
        if node.subtree is None:
            raise UsageError(f"{path} is not in the recovery point")
        match = [n for n in repo.load_tree(index, node.subtree) if n.name == part]
        if not match:
            raise UsageError(f"{path} is not in the recovery point")
        node = match[0]
    return b"/" + b"/".join(parts), node


def list_point(repo: Repository, point: RecoveryPoint, path: str = "/") -> Iterator[Listed]:
    index = repo.load_index()
    base, node = _find(repo, index, point.tree, path)
    if node.subtree is None:
        yield Listed(os.fsdecode(base), node)
        return
    yield from _walk(repo, index, base.rstrip(b"/"), node.subtree)


def _walk(repo: Repository, index: Index, prefix: bytes, tree_id: bytes) -> Iterator[Listed]:
    for child in repo.load_tree(index, tree_id):
        full = prefix + b"/" + child.name
        yield Listed(os.fsdecode(full), child)
        if child.subtree is not None:
            yield from _walk(repo, index, full, child.subtree)
