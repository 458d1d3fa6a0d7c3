"""The guard rails' records in a machine's store (docs/format.md, "Guard rails").

    machines/<m>/guard              kind "guard", ad = the machine name: {"v": 1, "security": bool,
                                    "protection": "on" | "stopped", "data": "kept" | "deleted",
                                    "since": time}; absent = security on, protection on
    machines/<m>/pins/<id>          kind "pin", ad = id: {"v": 1, "salt": hex, "hash": hex,
                                    "created": time, "expires": time}; hash = SHA-256(salt || PIN)
    machines/<m>/pinfails/<id>      kind "pinfail", ad = id: {"v": 1, "time": time}: a wrong PIN
                                    given; deleted once older than the lockout
    machines/<m>/events/<id>        kind "event", ad = id: {"v": 1, "time": time, "operation": name,
                                    "detail": text, "host": name}; never rewritten or deleted
    machines/<m>/deleted/<point>    kind "deleted", ad = the point id: {"v": 1, "point": id,
                                    "deleted": time, "purge_after": time}

A PIN is used once: using it deletes its record, and an expired record is deleted when met. The
PIN itself is never stored, only its salted hash inside a sealed object, so reading the vault
without the key tells nothing, and even with the key it takes a guess of 10^6 per record.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cairn.core.errors import BlobNotFound, CairnError, IntegrityError
from cairn.core.ids import is_hex_id, random_id
from cairn.storage.blobstore import BlobStore
from cairn.vault.layout import MachineLayout
from cairn.vault.objects import ObjectSealer

GUARD_VERSION = 1
PIN_DIGITS = 6


@dataclass(frozen=True, slots=True)
class GuardState:
    security: bool = True
    protection: str = "on"  # or "stopped"
    data: str = "kept"  # or "deleted" (its points soft-deleted)
    since: str | None = None

    def describe(self) -> str:
        if self.protection == "on":
            return "on"
        return (
            f"stopped (data {'deleted, undelete possible' if self.data == 'deleted' else 'kept'})"
        )


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    time: datetime
    operation: str
    detail: str
    host: str


class Guards:
    def __init__(self, store: BlobStore, layout: MachineLayout, objects: ObjectSealer) -> None:
        self.store = store
        self.layout = layout
        self.objects = objects
        self._root = layout.root

    # --- the guard state ------------------------------------------------------------------------

    def state(self) -> GuardState:
        try:
            data = self.store.get(f"{self._root}/guard")
        except BlobNotFound:
            return GuardState()
        doc = self.objects.open_json(b"guard", self.layout.machine.encode(), data)
        try:
            return GuardState(
                bool(doc["security"]), str(doc["protection"]), str(doc["data"]), doc.get("since")
            )
        except (KeyError, TypeError):
            raise IntegrityError("the machine's guard record is malformed") from None

    def set_state(self, state: GuardState) -> None:
        doc = {
            "v": GUARD_VERSION,
            "security": state.security,
            "protection": state.protection,
            "data": state.data,
            "since": state.since,
        }
        blob = self.objects.seal_json(b"guard", self.layout.machine.encode(), doc)
        self.store.put(f"{self._root}/guard", blob)

    # --- PINs -----------------------------------------------------------------------------------

    def issue_pin(self, now: datetime, valid: timedelta) -> str:
        pin = f"{secrets.randbelow(10**PIN_DIGITS):0{PIN_DIGITS}d}"
        salt = secrets.token_bytes(16)
        pid = random_id()
        doc = {
            "v": GUARD_VERSION,
            "salt": salt.hex(),
            "hash": hashlib.sha256(salt + pin.encode()).hexdigest(),
            "created": now.isoformat(),
            "expires": (now + valid).isoformat(),
        }
        self.store.put(
            f"{self._root}/pins/{pid}", self.objects.seal_json(b"pin", bytes.fromhex(pid), doc)
        )
        return pin

    def use_pin(self, pin: str, now: datetime) -> bool:
        """True if `pin` is a PIN issued for this machine and not expired; it is then spent."""
        found = False
        for info in list(self.store.list(f"{self._root}/pins/")):
            pid = info.name.rsplit("/", 1)[1]
            if not is_hex_id(pid):
                continue
            try:
                doc = self.objects.open_json(b"pin", bytes.fromhex(pid), self.store.get(info.name))
                expires = datetime.fromisoformat(doc["expires"])
                digest = hashlib.sha256(bytes.fromhex(doc["salt"]) + pin.encode()).hexdigest()
            except BlobNotFound:
                continue
            except (CairnError, KeyError, TypeError, ValueError):
                self._delete(info.name)  # a damaged PIN opens nothing
                continue
            if expires <= now:
                self._delete(info.name)
                continue
            if not found and hmac.compare_digest(digest, str(doc["hash"])):
                # Spent before it is honoured: deleted, or the operation does not go on.
                self.store.delete(info.name)
                found = True
        return found

    def void_pins(self) -> int:
        """Delete every PIN issued (after too many wrong ones): the number voided."""
        names = [i.name for i in self.store.list(f"{self._root}/pins/")]
        for name in names:
            self._delete(name)
        return len(names)

    def pin_failed(self, now: datetime) -> None:
        fid = random_id()
        doc = {"v": GUARD_VERSION, "time": now.isoformat()}
        blob = self.objects.seal_json(b"pinfail", bytes.fromhex(fid), doc)
        self.store.put(f"{self._root}/pinfails/{fid}", blob)

    def pin_failures(self, now: datetime, within: timedelta) -> list[datetime]:
        """When the wrong PINs of the last `within` were given, oldest first; older records (and
        records that do not open) are deleted. A record dated ahead of `now` counts (a clock set
        back must not reopen the guessing)."""
        out = []
        for info in list(self.store.list(f"{self._root}/pinfails/")):
            fid = info.name.rsplit("/", 1)[1]
            if not is_hex_id(fid):
                continue
            try:
                doc = self.objects.open_json(
                    b"pinfail", bytes.fromhex(fid), self.store.get(info.name)
                )
                when = datetime.fromisoformat(doc["time"])
            except BlobNotFound:
                continue
            except (CairnError, KeyError, TypeError, ValueError):
                self._delete(info.name)
                continue
            if when <= now - within:
                self._delete(info.name)
            else:
                out.append(when)
        return sorted(out)

    def _delete(self, name: str) -> None:
        try:
            self.store.delete(name)
        except BlobNotFound:
            pass

    # --- events (critical operations) -----------------------------------------------------------

    def record(self, operation: str, detail: str, now: datetime) -> Event:
        eid = random_id()
        host = socket.gethostname()
        doc = {
            "v": GUARD_VERSION,
            "time": now.isoformat(),
            "operation": operation,
            "detail": detail,
            "host": host,
        }
        blob = self.objects.seal_json(b"event", bytes.fromhex(eid), doc)
        self.store.put(f"{self._root}/events/{eid}", blob)
        return Event(eid, now, operation, detail, host)

    def events(self) -> list[Event]:
        out = []
        for info in self.store.list(f"{self._root}/events/"):
            eid = info.name.rsplit("/", 1)[1]
            if not is_hex_id(eid):
                continue
            doc = self.objects.open_json(b"event", bytes.fromhex(eid), self.store.get(info.name))
            out.append(
                Event(
                    eid,
                    datetime.fromisoformat(doc["time"]),
                    str(doc["operation"]),
                    str(doc["detail"]),
                    str(doc["host"]),
                )
            )
        return sorted(out, key=lambda e: e.time)

    # --- soft-deleted points --------------------------------------------------------------------

    def soft_delete(self, point_id: str, now: datetime, keep: timedelta) -> None:
        doc: dict[str, Any] = {
            "v": GUARD_VERSION,
            "point": point_id,
            "deleted": now.isoformat(),
            "purge_after": (now + keep).isoformat(),
        }
        blob = self.objects.seal_json(b"deleted", bytes.fromhex(point_id), doc)
        self.store.put(f"{self._root}/deleted/{point_id}", blob)

    def deleted(self) -> dict[str, datetime]:
        """Soft-deleted points -> when prune may purge them. A record that does not open keeps
        its point hidden and unpurged (purge only on the strength of a readable record)."""
        out = {}
        for info in self.store.list(f"{self._root}/deleted/"):
            pid = info.name.rsplit("/", 1)[1]
            if not is_hex_id(pid):
                continue
            try:
                doc = self.objects.open_json(
                    b"deleted", bytes.fromhex(pid), self.store.get(info.name)
                )
                out[pid] = datetime.fromisoformat(doc["purge_after"])
            except BlobNotFound:
                continue
            except (CairnError, KeyError, TypeError, ValueError):
                out[pid] = datetime.max.replace(tzinfo=UTC)
        return out

    def undelete(self, point_id: str) -> None:
        self._delete(f"{self._root}/deleted/{point_id}")
