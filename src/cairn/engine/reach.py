"""What recovery points reach: the trees and chunks they need, and what of it the index lacks."""

from __future__ import annotations

from collections.abc import Iterable

from cairn.core.errors import BlobNotFound, IntegrityError
from cairn.vault.index import Index
from cairn.vault.packs import TREE
from cairn.vault.points import RecoveryPoint
from cairn.vault.repository import Repository


def _walk(
    repo: Repository, index: Index, point: RecoveryPoint, seen: set[bytes], gaps: list[str]
) -> None:
    stack = [point.tree]
    while stack:
        tid = stack.pop()
        if tid in seen:
            continue
        loc = repo.locate(index, tid)
        if loc is None or loc.kind != TREE:
            gaps.append(f"recovery point {point.id[:8]}: tree {tid.hex()[:16]} is missing")
            continue
        seen.add(tid)
        try:
            nodes = repo.load_tree(index, tid)
        except (BlobNotFound, IntegrityError) as e:  # a storage fault is raised, never damage
            gaps.append(f"recovery point {point.id[:8]}: tree {tid.hex()[:16]}: {e}")
            continue
        for node in nodes:
            if node.subtree is not None:
                stack.append(node.subtree)
            for cid in node.content:
                if repo.locate(index, cid) is None:
                    gaps.append(
                        f"recovery point {point.id[:8]}: chunk {cid.hex()[:16]} of"
                        f" {node.name.decode(errors='replace')} is missing"
                    )
                seen.add(cid)


def reach(
    repo: Repository, index: Index, points: Iterable[RecoveryPoint]
) -> tuple[set[bytes], list[RecoveryPoint]]:
    """Every blob the points reach (the index has them or not), and the points that lack some.

    One walk shares the trees the points have in common; only when something is missing are the
    points walked one by one, to name each that lacks data.
    """
    points = list(points)
    used: set[bytes] = set()
    gaps: list[str] = []
    for point in points:
        _walk(repo, index, point, used, gaps)
    if not gaps:
        return used, []
    return used, [p for p in points if lacking(repo, index, p)]


def lacking(repo: Repository, index: Index, point: RecoveryPoint) -> list[str]:
    """What one point needs and the index lacks (empty when the point is whole)."""
    gaps: list[str] = []
    _walk(repo, index, point, set(), gaps)
    return gaps
