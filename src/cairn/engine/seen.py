"""The recovery points this machine has seen, kept in CAIRN_HOME, to notice a vault rolled back.

`CAIRN_HOME/seen/<vault id>.<machine>.json` = {"seen": [ids], "deleted": [ids], "gone": [ids]}:
every point a backup, listing or check of this machine found; every point a prune of this machine
is deleting (marked before the delete, so check never takes it for vanished); and every point such
a delete removed for certain. Two ways a vault is rolled back to an older copy (or an attacker with
write access replays old objects) show against this memory (`rollback_findings`):
- a point seen, and neither in the vault nor deleted by a prune, was removed behind this
  machine's back, or the vault went back to before it;
- a point this machine's prune removed for certain is in the vault again: an older copy was put
  back. (One only marked, whose prune was killed before its delete, is not: the next prune
  deletes it again.)
`cairn check` reports both (exit 14) and every backup warns of them before building on the
vault's newest point (exit 3), until `cairn repair` accepts the vault as it is. And a point dated
after this machine's clock (beyond CLOCK_SKEW: `dated_ahead`) is an older point presented as
newer, or a clock gone back: check names it (exit 14), and a backup warns and does not build on
it (so it cannot make a replayed old tree the base of every later point). A memory that is
missing or damaged only loses the detection, never data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

from cairn.engine.home import write_private
from cairn.vault.points import PointMemory, RecoveryPoint

_KEYS = ("seen", "deleted", "gone")
CLOCK_SKEW = timedelta(minutes=10)


class SeenPoints:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> tuple[set[str], set[str], set[str]]:
        try:
            doc = json.loads(self.path.read_bytes())
            seen, deleted, gone = ({str(p) for p in doc.get(k, [])} for k in _KEYS)
            return seen, deleted, gone
        except FileNotFoundError:
            return set(), set(), set()
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return set(), set(), set()  # a damaged memory only loses the detection, never data

    def _save(self, seen: set[str], deleted: set[str], gone: set[str]) -> None:
        doc = {"seen": sorted(seen), "deleted": sorted(deleted), "gone": sorted(gone)}
        write_private(self.path, json.dumps(doc).encode())

    def saw(self, ids: Iterable[str]) -> None:
        seen, deleted, gone = self._load()
        new = set(ids) - seen
        if new:
            self._save(seen | new, deleted, gone)

    def deleted(self, ids: Iterable[str]) -> None:
        """A prune of this machine is about to delete these points."""
        seen, deleted, gone = self._load()
        marked = set(ids)
        if marked - deleted or marked & seen:
            self._save(seen - marked, deleted | marked, gone)

    def removed(self, ids: Iterable[str]) -> None:
        """A prune of this machine deleted these points: were they back, it was a replay."""
        seen, deleted, gone = self._load()
        done = set(ids)
        if done - gone:
            self._save(seen - done, deleted - done, gone | done)

    def vanished(self, present: Iterable[str]) -> list[str]:
        seen, _, _ = self._load()
        return sorted(seen - set(present))

    def replayed(self, present: Iterable[str]) -> list[str]:
        """Points a prune of this machine deleted for certain that are in the vault again."""
        _, _, gone = self._load()
        return sorted(gone & set(present))

    def accept(self, present: Iterable[str]) -> list[str]:
        """Forget the vanished points, and take the replayed ones as the vault's again (repair
        accepts the vault as it is); returns the vanished ones."""
        seen, deleted, gone = self._load()
        now = set(present)
        lost = sorted(seen - now)
        back = gone & now
        if lost or back:
            self._save((seen & now) | back, deleted, gone - back)
        return lost


def rollback_findings(memory: PointMemory | None, present: Iterable[str]) -> list[str]:
    """What says the vault went back to an older copy, against what this machine saw: one text
    per point, naming it and what to do."""
    if memory is None:
        return []
    ids = set(present)
    texts = [
        f"recovery point {pid[:16]}, seen by this machine, is gone from the vault and no prune"
        " of this machine deleted it (deleted, or the vault rolled back); `cairn repair` accepts"
        " the vault as it is"
        for pid in memory.vanished(ids)
    ]
    texts += [
        f"recovery point {pid[:16]}, deleted by a prune of this machine, is in the vault again:"
        " an older copy of the vault (or of that point) was put back; `cairn repair` accepts"
        " the vault as it is"
        for pid in memory.replayed(ids)
    ]
    return texts


def dated_ahead(point: RecoveryPoint, now: datetime) -> str | None:
    """Why `point` cannot be as new as it says (dated after `now` beyond CLOCK_SKEW), or None."""
    if point.time <= now + CLOCK_SKEW:
        return None
    return (
        f"recovery point {point.id[:16]} is dated {point.time.isoformat(timespec='seconds')},"
        f" after this machine's clock ({now.isoformat(timespec='seconds')}): an older point"
        " presented as newer, or a clock gone back; it is not built on"
    )
