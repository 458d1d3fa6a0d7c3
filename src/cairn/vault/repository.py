"""One machine's store inside a vault: packs, index, trees, recovery points, registration, locks.

Write order is the consistency rule: packs, then the index segments that name them, then the
recovery point. A killed backup leaves only packs no index names; the next backup finds them
(`recover_packs`) and indexes them instead of uploading their data again.
"""

from __future__ import annotations

import platform
import socket
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from cairn import __version__
from cairn.codec.hashing import IdHasher, content_hash
from cairn.codec.keys import MasterKey
from cairn.codec.sealing import Sealer
from cairn.core.clock import Clock
from cairn.core.errors import BlobNotFound, CairnError, IntegrityError, UsageError
from cairn.core.ids import is_hex_id
from cairn.storage.blobstore import BlobStore, put_verified
from cairn.storage.location import is_remote
from cairn.vault.damage import DamageRecords
from cairn.vault.guards import Guards
from cairn.vault.index import Index, Location
from cairn.vault.indexstore import IndexStore
from cairn.vault.layout import MachineLayout
from cairn.vault.locks import LockManager
from cairn.vault.objects import ObjectSealer
from cairn.vault.packs import (
    TREE,
    PackWriter,
    blob_ad,
)
from cairn.vault.points import PointMemory, RecoveryPoint
from cairn.vault.prunestate import PruneStates
from cairn.vault.tree import Entry, Node, decode_entries, decode_tree, encode_entries, encode_tree
from cairn.vault.vaultfile import StoreConfig

TREE_CACHE = 4096
MAX_BLOB_BYTES = 64 << 20


class Repository(IndexStore):
    def __init__(
        self,
        store: BlobStore,
        machine: str,
        key: MasterKey,
        config: StoreConfig,
        clock: Clock,
    ) -> None:
        self.store = store
        self.layout = MachineLayout(machine)
        self.machine = machine
        self.key = key
        self.config = config
        self.clock = clock
        self.objects = ObjectSealer(key)
        self.hasher = IdHasher(key.id_key)
        self.locks = LockManager(store, self.layout, self.objects, clock)
        self.damage = DamageRecords(store, self.layout, self.objects)
        self.guards = Guards(store, self.layout, self.objects)
        self.prune_states = PruneStates(store, self.layout, self.objects)
        # Damaged objects skipped where no callback was given (named, for the front end to show).
        self.problems: list[str] = []
        self.unreadable_points: list[str] = []
        # The points this machine saw (set for the registered machine by the session).
        self.memory: PointMemory | None = None
        self._openers: dict[bytes, Sealer] = {}
        self._trees: OrderedDict[bytes, list[Node]] = OrderedDict()
        # Over a network, a tree is read by fetching its whole tree pack once (kept until a tree
        # of another pack is needed): a restore's plan then costs a request per tree pack, not
        # one per folder. Locally, ranged reads cost nothing extra.
        self._whole_tree_packs = is_remote(getattr(store, "location", ""))
        self._tree_pack: tuple[str, bytes] | None = None
        self._tree_pack_lock = threading.Lock()

    # --- sealing -------------------------------------------------------------------------------

    def pack_writer(self) -> PackWriter:
        return PackWriter(
            self.key,
            lambda info, data: self.upload_pack(info.pack_id, data),
            level=self.config.level,
        )

    def upload_pack(self, pack_id: str, data: bytes | memoryview) -> None:
        put_verified(self.store, self.layout.pack(pack_id), data)

    # --- blobs -----------------------------------------------------------------------------------

    def open_blob(self, loc: Location, blob_id: bytes, sealed: bytes | memoryview) -> bytes:
        plain = self.opener(loc.session_id).open(
            sealed, blob_ad(loc.kind, blob_id), max_size=max(loc.raw_length, 1)
        )
        if len(plain) != loc.raw_length or self.hasher.id_of(plain) != blob_id:
            raise IntegrityError(f"blob {blob_id.hex()[:16]} does not match its id")
        return plain

    def read_blob(self, index: Index, blob_id: bytes) -> bytes:
        loc = self.locate(index, blob_id)
        if loc is None:
            raise IntegrityError(f"blob {blob_id.hex()[:16]} is not in the index")
        try:
            return self._read_at(loc, blob_id)
        except (IntegrityError, BlobNotFound) as e:
            return self.read_other_copy(index, blob_id, loc, e)

    def _read_at(self, loc: Location, blob_id: bytes) -> bytes:
        if loc.length > MAX_BLOB_BYTES:
            raise IntegrityError(f"blob {blob_id.hex()[:16]} is larger than allowed")
        sealed = self.store.get(self.layout.pack(loc.pack_id), loc.offset, loc.length)
        return self.open_blob(loc, blob_id, sealed)

    def read_other_copy(
        self, index: Index, blob_id: bytes, failed: Location, error: CairnError
    ) -> bytes:
        """The blob read from another copy the index knows (a chunk two workers both stored, a
        copy prune repacked), once the copy at `failed` turned out damaged or gone; `error`
        (naming the failed copy's pack) is raised when no other copy reads whole either."""
        for loc in index.copies(blob_id):
            if loc.pack_id == failed.pack_id and loc.offset == failed.offset:
                continue
            try:
                return self._read_at(loc, blob_id)
            except (IntegrityError, BlobNotFound):
                continue
        raise error

    def read_tree_blob(self, index: Index, tree_id: bytes) -> bytes:
        """A tree's plaintext, read through its whole tree pack on remote vaults."""
        loc = self.locate(index, tree_id)
        if not self._whole_tree_packs or loc is None or loc.kind != TREE:
            return self.read_blob(index, tree_id)
        try:
            with self._tree_pack_lock:
                if self._tree_pack is None or self._tree_pack[0] != loc.pack_id:
                    self._tree_pack = None
                    data = self.store.get(self.layout.pack(loc.pack_id))
                    if len(data) > MAX_BLOB_BYTES:
                        raise IntegrityError(f"pack {loc.pack_id[:16]} is larger than allowed")
                    self._tree_pack = (loc.pack_id, data)
                data = self._tree_pack[1]
            sealed = memoryview(data)[loc.offset : loc.offset + loc.length]
            if len(sealed) != loc.length:
                raise IntegrityError(f"tree {tree_id.hex()[:16]} lies beyond the end of its pack")
            return self.open_blob(loc, tree_id, sealed)
        except (IntegrityError, BlobNotFound) as e:
            return self.read_other_copy(index, tree_id, loc, e)

    def load_tree(self, index: Index, tree_id: bytes) -> list[Node]:
        cached = self._trees.get(tree_id)
        if cached is not None:
            self._trees.move_to_end(tree_id)
            return cached
        loc = self.locate(index, tree_id)
        if loc is not None and loc.kind != TREE:
            raise IntegrityError(f"blob {tree_id.hex()[:16]} is not a tree")
        nodes = decode_tree(self.read_tree_blob(index, tree_id))
        self._trees[tree_id] = nodes
        if len(self._trees) > TREE_CACHE:
            self._trees.popitem(last=False)
        return nodes

    def load_tree_entries(self, index: Index, tree_id: bytes) -> list[Entry]:
        """A tree's raw entries (for a backup comparing against its previous recovery point)."""
        loc = self.locate(index, tree_id)
        if loc is None or loc.kind != TREE:
            raise IntegrityError(f"tree {tree_id.hex()[:16]} is missing")
        return decode_entries(self.read_tree_blob(index, tree_id))

    def entries_id(self, entries: list[Entry]) -> tuple[bytes, bytes]:
        plain = encode_entries(entries)
        return self.hasher.id_of(plain), plain

    def tree_id(self, nodes: list[Node]) -> tuple[bytes, bytes]:
        plain = encode_tree(nodes)
        return self.hasher.id_of(plain), plain

    @staticmethod
    def verify_pack_bytes(pack_id: str, data: bytes) -> bool:
        return content_hash(data).hex() == pack_id

    # --- recovery points -------------------------------------------------------------------------

    def save_point(self, point: RecoveryPoint) -> None:
        blob = self.objects.seal_json(b"point", bytes.fromhex(point.id), point.to_json())
        put_verified(self.store, self.layout.point(point.id), blob)

    def load_point(self, point_id: str) -> RecoveryPoint:
        data = self.store.get(self.layout.point(point_id))
        try:
            doc = self.objects.open_json(b"point", bytes.fromhex(point_id), data)
            return RecoveryPoint.from_json(doc, point_id)
        except BlobNotFound:
            raise
        except CairnError as e:
            raise IntegrityError(
                f"recovery point {point_id[:16]} ({self.layout.point(point_id)}) is damaged: {e}"
            ) from None

    def point_ids(self) -> list[str]:
        out = []
        for info in self.store.list(self.layout.prefix("points")):
            pid = info.name.rsplit("/", 1)[1]
            if is_hex_id(pid):
                out.append(pid)
        return out

    def damaged_points(self) -> set[str]:
        """The ids of the points `cairn repair` marked as having lost data."""
        return self.damage.point_ids()

    def list_points(
        self, on_damage: Callable[[str, str], None] | None = None
    ) -> list[RecoveryPoint]:
        """Every point, oldest first; those marked damaged have status "damaged", soft-deleted
        ones "deleted" (in memory only: the sealed point is never rewritten). A point that does
        not open is skipped and named (to `on_damage`, else in `problems`) and counted in
        `unreadable_points`."""
        points = []
        damaged = self.damaged_points()
        deleted = self.guards.deleted()
        self.unreadable_points = []
        listed = self.point_ids()
        if self.memory is not None:
            # Points this machine saw that the listing lacks are read by name: a listing may
            # miss recent blobs, and a point left out would let prune delete the data it uses.
            listed += self.memory.vanished(listed)
        for pid in listed:
            try:
                point = self.load_point(pid)
            except BlobNotFound:
                continue
            except IntegrityError as e:
                self.unreadable_points.append(pid)
                self.problem(on_damage, f"{e}; skipped")
                continue
            if pid in damaged:
                point.status = "damaged"
            if pid in deleted:
                point.status = "deleted"
            points.append(point)
        return sorted(points, key=lambda p: (p.time, p.id))

    def find_point(self, spec: str) -> RecoveryPoint:
        if spec == "latest":
            points = [p for p in self.list_points() if p.status != "deleted"]
            if not points:
                raise UsageError(f"machine {self.machine!r} has no recovery points yet")
            return points[-1]
        spec = spec.lower()
        if is_hex_id(spec):  # a whole id is read by name: a listing may miss a recent point
            try:
                return self.load_point(spec)
            except BlobNotFound:
                raise UsageError(
                    f"no recovery point {spec!r}: see `cairn recovery-points`"
                ) from None
        ids = self.point_ids()
        if self.memory is not None:
            ids += self.memory.vanished(ids)
        matches = [p for p in ids if p.startswith(spec)]
        if not spec or not matches:
            raise UsageError(f"no recovery point {spec!r}: see `cairn recovery-points`")
        if len(matches) > 1:
            raise UsageError(f"{spec!r} names {len(matches)} recovery points: give more characters")
        if matches[0] in self.guards.deleted():
            raise UsageError(
                f"recovery point {matches[0][:8]} is deleted: `cairn protection undelete"
                f" {matches[0][:8]}` brings it back (within 14 days of its deletion)"
            )
        return self.load_point(matches[0])

    # --- job summaries (written by the agent, read by other machines and the console) ----------

    def save_job(self, job_id: str, summary: dict[str, Any]) -> None:
        blob = self.objects.seal_json(b"job", bytes.fromhex(job_id), summary)
        self.store.put(self.layout.job(job_id), blob)

    def load_job(self, job_id: str) -> dict[str, Any]:
        doc = self.objects.open_json(
            b"job", bytes.fromhex(job_id), self.store.get(self.layout.job(job_id))
        )
        if not isinstance(doc, dict):
            raise IntegrityError(f"job summary {job_id[:16]} is damaged")
        return doc

    def job_ids(self) -> list[str]:
        names = (
            info.name.rsplit("/", 1)[1] for info in self.store.list(self.layout.prefix("jobs"))
        )
        return sorted(n for n in names if is_hex_id(n))

    # --- prune state (vault/prunestate.py) -----------------------------------------------------

    def read_prune_state(
        self, on_damage: Callable[[str, str], None] | None = None
    ) -> tuple[list[str], dict[str, datetime]]:
        return self.prune_states.read(on_damage)

    def write_prune_state(self, unreferenced: dict[str, datetime], now: datetime) -> str:
        return self.prune_states.write(unreferenced, now)

    # --- registration ----------------------------------------------------------------------------

    def write_registration(self, extra: dict[str, Any], now: datetime) -> None:
        doc = {
            "machine": self.machine,
            "host": socket.gethostname(),
            "os": f"{platform.system()} {platform.release()}",
            "agent_version": __version__,
            "updated": now.isoformat(),
            **extra,
        }
        blob = self.objects.seal_json(b"machine", self.machine.encode(), doc)
        self.store.put(self.layout.registration, blob)

    def read_registration(self) -> dict[str, Any]:
        data = self.store.get(self.layout.registration)
        doc = self.objects.open_json(b"machine", self.machine.encode(), data)
        if not isinstance(doc, dict):
            raise IntegrityError("the machine registration is damaged")
        return doc
