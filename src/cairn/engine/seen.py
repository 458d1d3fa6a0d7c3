"""The recovery points this machine has seen, kept in CAIRN_HOME, to notice points that vanish.

`CAIRN_HOME/seen/<vault id>.<machine>.json` = {"seen": [point ids], "deleted": [point ids]}: every
point a backup, listing or check of this machine found, and every point its prunes deleted. A
point seen and neither in the vault nor deleted by a prune was removed behind this machine's back,
or the vault was rolled back: `cairn check` reports it (exit 14) until `cairn repair` accepts
the vault as it is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from cairn.engine.home import write_private


class SeenPoints:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> tuple[set[str], set[str]]:
        try:
            doc = json.loads(self.path.read_bytes())
            return {str(p) for p in doc["seen"]}, {str(p) for p in doc["deleted"]}
        except FileNotFoundError:
            return set(), set()
        except (OSError, ValueError, KeyError, TypeError):
            return set(), set()  # a damaged memory only loses the detection, never data

    def _save(self, seen: set[str], deleted: set[str]) -> None:
        doc = {"seen": sorted(seen), "deleted": sorted(deleted & seen)}
        write_private(self.path, json.dumps(doc).encode())

    def saw(self, ids: Iterable[str]) -> None:
        seen, deleted = self._load()
        new = set(ids) - seen
        if new:
            self._save(seen | new, deleted)

    def deleted(self, ids: Iterable[str]) -> None:
        seen, deleted = self._load()
        gone = set(ids)
        if gone:
            self._save(seen - gone, deleted)

    def vanished(self, present: Iterable[str]) -> list[str]:
        seen, _ = self._load()
        return sorted(seen - set(present))

    def accept(self, present: Iterable[str]) -> list[str]:
        """Forget the vanished points (repair accepts the vault as it is); returns them."""
        seen, deleted = self._load()
        now = set(present)
        gone = sorted(seen - now)
        if gone:
            self._save(seen & now, deleted)
        return gone
