"""List what a recovery point holds, under a path, all the way down.

A folder whose tree cannot be read is listed, then reported once more with `damaged` set (its
entries are missing), and the listing goes on; a loop of trees stops it (DamageFound).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

from cairn.core.errors import BlobNotFound, DamageFound, IntegrityError, UsageError
from cairn.vault.index import Index
from cairn.vault.points import RecoveryPoint
from cairn.vault.repository import Repository
from cairn.vault.tree import Node


@dataclass(frozen=True, slots=True)
class Listed:
    path: str
    node: Node
    damaged: str = ""  # for a folder whose tree cannot be read: why (its entries are not listed)


def find_node(repo: Repository, index: Index, root: bytes, path: str) -> tuple[list[bytes], Node]:
    """The parts of `path` and the entry it names in the tree `root` (UsageError if absent)."""
    parts = [p for p in os.fsencode(path).split(b"/") if p]
    node = Node(name=b"", kind="dir", subtree=root)
    for i, part in enumerate(parts):
        if node.kind != "dir" or node.subtree is None:
            raise UsageError(f"{path} is not in the recovery point")
        try:
            listing = repo.load_tree(index, node.subtree)
        except (IntegrityError, BlobNotFound) as e:
            shown = "/" + os.fsdecode(b"/".join(parts[:i]))
            raise DamageFound(f"the listing of folder {shown} is damaged: {e}") from None
        match = [n for n in listing if n.name == part]
        if not match:
            shown = "/" + os.fsdecode(b"/".join(parts[: i + 1]))
            raise UsageError(f"{shown} is not in the recovery point: see `cairn ls`")
        node = match[0]
    return parts, node


def list_point(repo: Repository, point: RecoveryPoint, path: str = "/") -> Iterator[Listed]:
    index = repo.load_index()
    parts, node = find_node(repo, index, point.tree, path)
    base = b"/" + b"/".join(parts)
    if node.subtree is None:
        yield Listed(os.fsdecode(base), node)
        return
    yield from _walk(repo, index, base.rstrip(b"/"), node.subtree)


def _walk(repo: Repository, index: Index, prefix: bytes, tree_id: bytes) -> Iterator[Listed]:
    """Depth first, parents before children, with an explicit stack: a tree any number of
    folders deep lists without recursion."""
    stack: list[tuple[bytes, bytes, Iterator[Node]]] = [
        (prefix, tree_id, iter(repo.load_tree(index, tree_id)))
    ]
    on_path = {tree_id}
    while stack:
        base, current, entries = stack[-1]
        child = next(entries, None)
        if child is None:
            stack.pop()
            on_path.discard(current)
            continue
        full = base + b"/" + child.name
        yield Listed(os.fsdecode(full), child)
        if child.subtree is not None:
            try:
                grand = repo.load_tree(index, child.subtree)
            except (IntegrityError, BlobNotFound) as e:
                yield Listed(os.fsdecode(full), child, damaged=str(e))
                continue
            if child.subtree in on_path:
                raise DamageFound(
                    f"the recovery point lists the folder {os.fsdecode(full)} as its own ancestor"
                    " (a loop of trees): the vault is damaged or hostile"
                )
            stack.append((full, child.subtree, iter(grand)))
            on_path.add(child.subtree)
