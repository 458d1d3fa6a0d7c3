"""Prune states: when each unreferenced pack was first found so (docs/format.md, "Prune state").

`machines/<m>/prune/<state id>` is a standalone object of kind "prunestate". A state that does not
open is named and read as empty: the packs it listed only wait longer before deletion.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from cairn.core.errors import BlobNotFound, CairnError, IntegrityError
from cairn.core.ids import is_hex_id, random_id
from cairn.storage.blobstore import BlobStore
from cairn.vault.layout import MachineLayout
from cairn.vault.objects import ObjectSealer


class PruneStates:
    def __init__(self, store: BlobStore, layout: MachineLayout, objects: ObjectSealer) -> None:
        self.store = store
        self.layout = layout
        self.objects = objects

    def read_one(self, state_id: str) -> dict[str, datetime]:
        """One state's packs; IntegrityError naming it if it is damaged or malformed."""
        name = self.layout.prune_state(state_id)
        try:
            doc = self.objects.open_json(
                b"prunestate", bytes.fromhex(state_id), self.store.get(name)
            )
            packs = {p: datetime.fromisoformat(t) for p, t in doc["unreferenced"].items()}
            if any(t.tzinfo is None for t in packs.values()):
                raise ValueError("a time has no zone")
        except CairnError as e:
            raise IntegrityError(f"prune state {state_id[:16]} ({name}) is damaged: {e}") from None
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise IntegrityError(
                f"prune state {state_id[:16]} ({name}) is malformed: {e}"
            ) from None
        return packs

    def ids(self) -> list[str]:
        out = []
        for info in self.store.list(self.layout.prefix("prune")):
            state_id = info.name.rsplit("/", 1)[1]
            if is_hex_id(state_id):
                out.append(state_id)
        return out

    def read(
        self, on_damage: Callable[[str, str], None] | None = None
    ) -> tuple[list[str], dict[str, datetime]]:
        """(state ids, pack id -> when first found unreferenced), merged over states. A damaged
        state is named to `on_damage` and read as empty (its id is still returned, so the prune
        that writes the next state removes it); without `on_damage` it is raised."""
        ids: list[str] = []
        seen: dict[str, datetime] = {}
        for state_id in self.ids():
            try:
                packs = self.read_one(state_id)
            except BlobNotFound:
                continue
            except IntegrityError as e:
                if on_damage is None:
                    raise
                on_damage("", f"{e}; a fresh state is started (its packs wait longer)")
                packs = {}
            ids.append(state_id)
            for p, t in packs.items():
                if p not in seen or t < seen[p]:
                    seen[p] = t
        return ids, seen

    def write(self, unreferenced: dict[str, datetime], now: datetime) -> str:
        state_id = random_id()
        doc = {
            "written": now.isoformat(),
            "unreferenced": {p: t.isoformat() for p, t in sorted(unreferenced.items())},
        }
        blob = self.objects.seal_json(b"prunestate", bytes.fromhex(state_id), doc)
        self.store.put(self.layout.prune_state(state_id), blob)
        return state_id
