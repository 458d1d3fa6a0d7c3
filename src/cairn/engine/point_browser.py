"""A recovery point's tree for Recover Data: one folder at a time, and a search by name.

`list_folder(repo, point, path)` reads the one tree of the folder `path` in the point (folders
first, then by name); `search(repo, point, text)` looks for names containing `text` (ignoring
case) folder by folder, breadth first, and stops after `max_matches` matches or `max_folders`
folders read (saying so), so a search never runs unbounded, even on a hostile vault whose trees
loop. A folder whose tree cannot be read is named in `damaged`, and the search goes on. A name that
is not valid UTF-8 is shown with its bytes escaped and is not `usable` for a selection (its folder
is). Nothing recurses.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from cairn.core.errors import BlobNotFound, IntegrityError, UsageError
from cairn.engine.listing import find_node
from cairn.vault.index import Index
from cairn.vault.points import RecoveryPoint
from cairn.vault.repository import Repository
from cairn.vault.tree import Node

MAX_MATCHES = 200
MAX_FOLDERS = 20_000


@dataclass(frozen=True, slots=True)
class PointEntry:
    name: str
    path: str
    kind: str  # as trees record it: file, dir, symlink, fifo, socket, chardev, blockdev
    size: int
    mtime_ns: int
    usable: bool = True


@dataclass
class SearchResult:
    matches: list[PointEntry] = field(default_factory=list)
    folders: int = 0  # folders read
    stopped: str = ""  # why the search stopped early ("" when it read every folder)
    damaged: list[str] = field(default_factory=list)  # folders whose listing could not be read


def _shown(raw: bytes) -> tuple[str, bool]:
    try:
        return raw.decode("utf-8"), True
    except UnicodeDecodeError:
        return raw.decode("utf-8", "backslashreplace"), False


def _entry(base: bytes, node: Node) -> PointEntry:
    full = base.rstrip(b"/") + b"/" + node.name
    path, usable = _shown(full)
    name, _ = _shown(node.name)
    return PointEntry(name, path, node.kind, node.size, node.mtime_ns, usable)


def _folder(repo: Repository, index: Index, point: RecoveryPoint, path: str) -> tuple[bytes, Node]:
    parts, node = find_node(repo, index, point.tree, path)
    if node.kind != "dir" or node.subtree is None:
        raise UsageError(f"{path} is not a folder in the recovery point")
    return b"/" + b"/".join(parts), node


def list_folder(
    repo: Repository, point: RecoveryPoint, path: str = "/", index: Index | None = None
) -> list[PointEntry]:
    """The entries of folder `path` in the point (UsageError if it is not a folder there)."""
    index = index if index is not None else repo.load_index()
    base, node = _folder(repo, index, point, path)
    assert node.subtree is not None
    entries = [_entry(base, child) for child in repo.load_tree(index, node.subtree)]
    entries.sort(key=lambda e: (e.kind != "dir", e.name.casefold(), e.name))
    return entries


def search(
    repo: Repository,
    point: RecoveryPoint,
    text: str,
    *,
    under: str = "/",
    max_matches: int = MAX_MATCHES,
    max_folders: int = MAX_FOLDERS,
    index: Index | None = None,
) -> SearchResult:
    """Entries under `under` whose name contains `text`, ignoring case (see the module doc)."""
    needle = text.strip().casefold()
    if not needle:
        raise UsageError("type part of a file or folder name to search for")
    index = index if index is not None else repo.load_index()
    base, node = _folder(repo, index, point, under)
    assert node.subtree is not None
    result = SearchResult()
    queue: deque[tuple[bytes, bytes]] = deque([(base, node.subtree)])
    while queue:
        if result.folders >= max_folders:
            result.stopped = f"stopped after reading {max_folders} folders: search a folder deeper"
            break
        folder, tree_id = queue.popleft()
        result.folders += 1
        try:
            children = repo.load_tree(index, tree_id)
        except (IntegrityError, BlobNotFound):
            result.damaged.append(_shown(folder or b"/")[0])
            continue
        for child in children:
            entry = _entry(folder, child)
            if needle in entry.name.casefold():
                result.matches.append(entry)
                if len(result.matches) >= max_matches:
                    result.stopped = f"stopped at {max_matches} matches: type more of the name"
                    return result
            if child.kind == "dir" and child.subtree is not None:
                queue.append((folder.rstrip(b"/") + b"/" + child.name, child.subtree))
    return result
