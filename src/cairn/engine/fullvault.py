"""Freeing a full vault: what prune may delete before it holds its lock.

A vault with no room left cannot take prune's lock (a new blob), so prune could never free it.
Deleting an expired recovery point needs no lock: it writes nothing, and it takes no data with it
(the data goes only later, under the lock, after the grace period), so a backup or a restore in
flight loses nothing. Prune therefore deletes the expired points first when its lock meets a full
vault (`LockManager.acquire(make_room=...)`), then takes the lock in the room they leave and goes
on as usual; the data they alone used is deleted by the runs that follow, as always.
"""

from __future__ import annotations

from collections.abc import Iterable

from cairn.core.errors import BlobNotFound
from cairn.vault.repository import Repository


class ExpiredPointsFirst:
    """`make_room` for prune's lock: deletes the expired points, remembering which it deleted."""

    def __init__(self, repo: Repository, point_ids: Iterable[str]) -> None:
        self.repo = repo
        self.point_ids = sorted(point_ids)
        self.deleted: list[str] = []

    def __call__(self) -> int:
        if self.repo.memory is not None:  # first: check must not report them as vanished
            self.repo.memory.deleted(self.point_ids)
        for point_id in self.point_ids:
            try:
                self.repo.store.delete(self.repo.layout.point(point_id))
            except BlobNotFound:
                continue
            self.deleted.append(point_id)
        if self.repo.memory is not None:
            self.repo.memory.removed(self.deleted)  # back in the vault later: a replay
        return len(self.deleted)
