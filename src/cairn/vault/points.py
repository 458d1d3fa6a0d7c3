"""Recovery points: one backup of the machine's items at one time. Sealed JSON, kind "point".

A point records facts that are never rewritten: its time, what it backed up, the root tree, and the
policy facts (trigger, the scheduled slot it fills, the slot it substitutes for, an explicit
retain-until). Its expiry is derived from these and the policy in force (policy layer).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol

from cairn.core.errors import IntegrityError

POINT_VERSION = 1


@dataclass(slots=True)
class PointStats:
    files: int = 0
    dirs: int = 0
    bytes: int = 0
    files_new: int = 0
    files_changed: int = 0
    files_unchanged: int = 0
    bytes_read: int = 0
    bytes_added: int = 0
    bytes_stored: int = 0
    warnings: int = 0


@dataclass(slots=True)
class RecoveryPoint:
    id: str
    time: datetime
    machine: str
    host: str
    paths: list[str]
    tree: bytes
    excludes: list[str] = field(default_factory=list)
    parent: str | None = None
    trigger: str = "on-demand"
    slot: str | None = None
    substitutes: str | None = None
    retain_until: str | None = None
    status: str = "completed"
    stats: PointStats = field(default_factory=PointStats)
    program: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "v": POINT_VERSION,
            "id": self.id,
            "time": self.time.isoformat(),
            "machine": self.machine,
            "host": self.host,
            "paths": self.paths,
            "tree": self.tree.hex(),
            "excludes": self.excludes,
            "parent": self.parent,
            "trigger": self.trigger,
            "slot": self.slot,
            "substitutes": self.substitutes,
            "retain_until": self.retain_until,
            "status": self.status,
            "stats": asdict(self.stats),
            "program": self.program,
        }

    @classmethod
    def from_json(cls, d: Any, expected_id: str) -> RecoveryPoint:
        try:
            if d["v"] != POINT_VERSION:
                raise IntegrityError("a recovery point has an unknown version")
            if d["id"] != expected_id:
                raise IntegrityError("a recovery point's id does not match its name")
            time = datetime.fromisoformat(d["time"])
            if time.tzinfo is None:
                raise IntegrityError("a recovery point's time has no zone")
            return cls(
                id=d["id"],
                time=time,
                machine=str(d["machine"]),
                host=str(d["host"]),
                paths=[str(p) for p in d["paths"]],
                tree=bytes.fromhex(d["tree"]),
                excludes=[str(p) for p in d.get("excludes", [])],
                parent=d.get("parent"),
                trigger=str(d.get("trigger", "on-demand")),
                slot=d.get("slot"),
                substitutes=d.get("substitutes"),
                retain_until=d.get("retain_until"),
                status=str(d.get("status", "completed")),
                stats=PointStats(**d.get("stats", {})),
                program=str(d.get("program", "")),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise IntegrityError(f"a recovery point is malformed: {e}") from None


class PointMemory(Protocol):
    """What this machine remembers of the points it saw (kept outside the vault, engine/seen.py)."""

    def saw(self, ids: Iterable[str]) -> None: ...
    def deleted(self, ids: Iterable[str]) -> None: ...
    def removed(self, ids: Iterable[str]) -> None: ...
    def vanished(self, present: Iterable[str]) -> list[str]: ...
    def replayed(self, present: Iterable[str]) -> list[str]: ...
    def segments_removed(self, ids: Iterable[str]) -> None: ...
    def replayed_segments(self, in_force: Iterable[str]) -> list[str]: ...
    def accept(self, present: Iterable[str]) -> list[str]: ...
