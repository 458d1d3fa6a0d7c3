"""The recovery points this machine has seen, kept in CAIRN_HOME, to notice a vault rolled back.

`CAIRN_HOME/seen/<vault id>.<machine>.json` = {"seen": [ids], "deleted": [ids], "gone": [ids],
"segments_gone": [ids]}: every point a backup, listing or check of this machine found; every point a
prune of this machine is deleting (marked before the delete, so check never takes it for
vanished); every point such a delete removed for certain; and every index segment a prune of this
machine superseded and deleted. Three ways a vault is rolled back to an older copy (or an attacker
with write access replays old objects) show against this memory (`rollback_findings`):
- a point seen, and neither in the vault nor deleted by a prune, was removed behind this
  machine's back, or the vault went back to before it;
- a point this machine's prune removed for certain is in the vault again: an older copy was put
  back. (One only marked, whose prune was killed before its delete, is not: the next prune
  deletes it again.)
- an index segment this machine's prune deleted is in force again (no segment in the vault
  supersedes it any more): an older copy of the index was put back, naming packs prune removed.
  `repair` supersedes it with an index rebuilt from the packs.
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

_KEYS = ("seen", "deleted", "gone", "segments_gone")
CLOCK_SKEW = timedelta(minutes=10)

Memory = dict[str, set[str]]


class SeenPoints:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> Memory:
        try:
            doc = json.loads(self.path.read_bytes())
            return {k: {str(p) for p in doc.get(k, [])} for k in _KEYS}
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass  # a damaged memory only loses the detection, never data
        return {k: set() for k in _KEYS}

    def _save(self, memory: Memory) -> None:
        write_private(self.path, json.dumps({k: sorted(memory[k]) for k in _KEYS}).encode())

    def saw(self, ids: Iterable[str]) -> None:
        m = self._load()
        new = set(ids) - m["seen"]
        if new:
            m["seen"] |= new
            self._save(m)

    def deleted(self, ids: Iterable[str]) -> None:
        """A prune of this machine is about to delete these points."""
        m = self._load()
        marked = set(ids)
        if marked - m["deleted"] or marked & m["seen"]:
            m["seen"] -= marked
            m["deleted"] |= marked
            self._save(m)

    def removed(self, ids: Iterable[str]) -> None:
        """A prune of this machine deleted these points: were they back, it was a replay."""
        m = self._load()
        done = set(ids)
        if done - m["gone"]:
            m["seen"] -= done
            m["deleted"] -= done
            m["gone"] |= done
            self._save(m)

    def segments_removed(self, ids: Iterable[str]) -> None:
        """A prune of this machine superseded and deleted these index segments."""
        m = self._load()
        done = set(ids)
        if done - m["segments_gone"]:
            m["segments_gone"] |= done
            self._save(m)

    def vanished(self, present: Iterable[str]) -> list[str]:
        return sorted(self._load()["seen"] - set(present))

    def replayed(self, present: Iterable[str]) -> list[str]:
        """Points a prune of this machine deleted for certain that are in the vault again."""
        return sorted(self._load()["gone"] & set(present))

    def replayed_segments(self, in_force: Iterable[str]) -> list[str]:
        """Index segments a prune of this machine deleted that are in force again."""
        return sorted(self._load()["segments_gone"] & set(in_force))

    def accept(self, present: Iterable[str]) -> list[str]:
        """Forget the vanished points, and take the replayed ones as the vault's again (repair
        accepts the vault as it is); returns the vanished ones."""
        m = self._load()
        now = set(present)
        lost = sorted(m["seen"] - now)
        back = m["gone"] & now
        if lost or back:
            m["seen"] = (m["seen"] & now) | back
            m["gone"] -= back
            self._save(m)
        return lost


def rollback_findings(
    memory: PointMemory | None, present: Iterable[str], segments_in_force: Iterable[str] = ()
) -> list[str]:
    """What says the vault went back to an older copy, against what this machine saw: one text
    per point or index segment, naming it and what to do."""
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
    texts += [
        f"index segment {seg[:16]}, superseded and deleted by a prune of this machine, is in"
        " force again: an older copy of the index was put back (it may name packs prune"
        " removed); `cairn repair` rebuilds the index from the packs"
        for seg in memory.replayed_segments(segments_in_force)
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
