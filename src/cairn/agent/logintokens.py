"""One-time login tokens for the console: `cairn console` asks the agent for one (over the local
API, with the bearer secret) and prints a URL carrying it; the console exchanges it for a session.

A token is valid `LIFETIME_S` (5 minutes) and once only; only its hash is kept, in memory, so an
agent restart voids every unused token.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable

LIFETIME_S = 300.0


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class LoginTokens:
    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._expiry: dict[bytes, float] = {}
        self._lock = threading.Lock()

    def issue(self) -> str:
        token = secrets.token_urlsafe(32)
        now = self._monotonic()
        with self._lock:
            self._expiry = {d: t for d, t in self._expiry.items() if t > now}
            self._expiry[_digest(token)] = now + LIFETIME_S
        return token

    def redeem(self, token: str) -> bool:
        """True once for a token issued less than 5 minutes ago; False ever after."""
        with self._lock:
            expires = self._expiry.pop(_digest(token), None)
        return expires is not None and self._monotonic() < expires
