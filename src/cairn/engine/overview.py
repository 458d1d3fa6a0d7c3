"""What the dashboard shows of the vault: this machine's recovery points over time (their count
and the bytes they added, cumulated), the local days that have points, and the vault usage (the
packs of this machine's store)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from cairn.vault.points import RecoveryPoint
from cairn.vault.repository import Repository


@dataclass(frozen=True)
class HistoryPoint:
    time: datetime
    points: int  # recovery points up to this one (those still in the vault)
    stored_bytes: int  # bytes they added to the vault, cumulated


@dataclass(frozen=True)
class VaultOverview:
    points: list[RecoveryPoint]  # oldest first
    history: list[HistoryPoint]
    days: dict[date, int]  # local day -> recovery points on it
    packs: int
    pack_bytes: int

    @property
    def newest(self) -> RecoveryPoint | None:
        return self.points[-1] if self.points else None


def vault_overview(repo: Repository) -> VaultOverview:
    points = repo.list_points()
    history = []
    stored = 0
    days: dict[date, int] = {}
    for n, p in enumerate(points, 1):
        stored += p.stats.bytes_stored
        history.append(HistoryPoint(p.time, n, stored))
        day = p.time.astimezone().date()
        days[day] = days.get(day, 0) + 1
    packs = repo.list_packs()
    return VaultOverview(points, history, days, len(packs), sum(packs.values()))
