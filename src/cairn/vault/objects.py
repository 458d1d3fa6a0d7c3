"""Standalone sealed objects (index segments, recovery points, registration, jobs, locks).

    file = version (1 byte, 1) || session id (16 bytes) || sealed(payload, ad = cairn/<kind>/<id>)

`<id>` is the raw bytes of the object's random hex id (the last part of its name); the machine
registration, which has no id, uses the machine name's bytes.
"""

from __future__ import annotations

import json
from typing import Any

from cairn.codec.keys import SESSION_ID_BYTES, MasterKey, new_session_id
from cairn.codec.sealing import Sealer, associated_data
from cairn.core.errors import IntegrityError

OBJECT_VERSION = 1


class ObjectSealer:
    """Seals standalone objects with one session; opens objects of any session."""

    def __init__(self, key: MasterKey) -> None:
        self._key = key
        self.session_id = new_session_id()
        self._sealer = Sealer(key.session_key(self.session_id))
        self._openers: dict[bytes, Sealer] = {self.session_id: self._sealer}

    def opener(self, session_id: bytes) -> Sealer:
        s = self._openers.get(session_id)
        if s is None:
            s = self._openers[session_id] = Sealer(self._key.session_key(session_id))
        return s

    def seal(self, kind: bytes, object_id: bytes, payload: bytes) -> bytes:
        sealed = self._sealer.seal(payload, associated_data(kind, object_id))
        return bytes([OBJECT_VERSION]) + self.session_id + sealed

    def open(self, kind: bytes, object_id: bytes, data: bytes) -> bytes:
        if len(data) < 1 + SESSION_ID_BYTES or data[0] != OBJECT_VERSION:
            raise IntegrityError(f"a {kind.decode()} object has an unknown version or is truncated")
        session = data[1 : 1 + SESSION_ID_BYTES]
        return self.opener(session).open(
            memoryview(data)[1 + SESSION_ID_BYTES :], associated_data(kind, object_id)
        )

    def seal_json(self, kind: bytes, object_id: bytes, value: Any) -> bytes:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"))
        return self.seal(kind, object_id, text.encode())

    def open_json(self, kind: bytes, object_id: bytes, data: bytes) -> Any:
        payload = self.open(kind, object_id, data)
        try:
            return json.loads(payload)
        except ValueError:
            raise IntegrityError(f"a {kind.decode()} object is not valid JSON") from None
