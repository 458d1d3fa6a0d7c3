"""Which exclusions apply where: the rule for an item that an exclusion matches.

An item is backed up whole even when an exclusion matches it or a folder above it: the item was
named, so it wins (`--exclude obs` no longer empties a backup of `/x/obs/y`). Such an exclusion
does not apply inside that item either (it would leave out everything there, `/x/obs/**`
matching `/x/obs/y/a` as much as `obs` does); the other exclusions do. Each such exclusion is
named in a warning when the policy is set and at every backup (docs/policy.md, "Exclusions and
items").
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from cairn.fs.exclusions import Exclusions

__all__ = ["Scope", "item_conflicts"]


def item_conflicts(exclusions: Exclusions, items: Sequence[bytes]) -> list[tuple[bytes, str]]:
    """(item, message) for each item that an exclusion matches, itself or by a folder above."""
    out = []
    for item in items:
        for pattern, where in exclusions.blocking(item, os.path.isdir(item)):
            what = (
                "the item itself" if where == item else f"{os.fsdecode(where)}, a folder above it"
            )
            out.append(
                (
                    item,
                    f"the exclusion {pattern!r} matches {what}: the item is backed up whole (a"
                    " named item wins), and the exclusion does not apply inside it",
                )
            )
    return out


class Scope:
    """The exclusions to apply to the children of a folder, by the item the folder is in."""

    __slots__ = ("_inside", "exclusions")

    def __init__(self, exclusions: Exclusions, items: Sequence[bytes]) -> None:
        self.exclusions = exclusions
        self._inside: list[tuple[bytes, Exclusions]] = []
        for item in items:
            matcher = exclusions.inside(item, os.path.isdir(item))
            if matcher is not exclusions:
                self._inside.append((item.rstrip(b"/") + b"/", matcher))

    def excludes(self, path: bytes, is_dir: bool) -> bool:
        """Whether the walk leaves out `path` (a child of a folder it walks)."""
        for prefix, matcher in self._inside:
            if path.startswith(prefix):
                return matcher.excludes(path, is_dir)
        return self.exclusions.excludes(path, is_dir)
