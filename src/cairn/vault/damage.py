"""Damage records: the recovery points `cairn repair` found to have lost data.

`machines/<m>/damaged/<point id>` is a standalone object of kind "damage" (associated data: the
point id), JSON `{"v": 1, "point": id, "found": time, "missing": count}`. A point is never
rewritten: the record stands beside it, and is removed when a later repair finds the point whole.
"""

from __future__ import annotations

from datetime import datetime

from cairn.core.errors import BlobNotFound
from cairn.core.ids import is_hex_id
from cairn.storage.blobstore import BlobStore
from cairn.vault.layout import MachineLayout
from cairn.vault.objects import ObjectSealer

DAMAGE_VERSION = 1


class DamageRecords:
    def __init__(self, store: BlobStore, layout: MachineLayout, objects: ObjectSealer) -> None:
        self.store = store
        self.layout = layout
        self.objects = objects

    def point_ids(self) -> set[str]:
        """The points a record names. A record that does not open still counts: damage is never
        hidden by more damage."""
        out = set()
        for info in self.store.list(self.layout.prefix("damaged")):
            pid = info.name.rsplit("/", 1)[1]
            if is_hex_id(pid):
                out.add(pid)
        return out

    def record(self, point_id: str, missing: int, now: datetime) -> None:
        doc = {"v": DAMAGE_VERSION, "point": point_id, "found": now.isoformat(), "missing": missing}
        blob = self.objects.seal_json(b"damage", bytes.fromhex(point_id), doc)
        self.store.put(self.layout.damage(point_id), blob)

    def clear(self, point_id: str) -> None:
        try:
            self.store.delete(self.layout.damage(point_id))
        except BlobNotFound:
            pass
