"""Console sessions: a signed cookie (HttpOnly, SameSite=Strict) and the CSRF token derived from it.

The cookie is `<session id>.<expiry, unix seconds>.<HMAC-SHA256 of both>` under a key kept in
CAIRN_HOME/console.key (0600, made once), so a session outlives an agent restart (the page
reconnects) and nothing needs storing per session. The CSRF token is a second HMAC of the session
id: a page gets it in every form, a state-changing request must send it back.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from cairn.engine.home import write_private

COOKIE = "cairn_session"
KEY_FILE = "console.key"
LIFETIME_S = 12 * 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class Session:
    id: str
    expires: int
    csrf: str


class Sessions:
    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def in_home(cls, home: Path) -> Sessions:
        path = home / KEY_FILE
        try:
            key = path.read_bytes()
        except FileNotFoundError:
            key = b""
        if len(key) < 32:
            key = secrets.token_bytes(32)
            write_private(path, key)
        return cls(key)

    def _mac(self, text: str) -> str:
        return _b64(hmac.new(self._key, text.encode(), hashlib.sha256).digest())

    def _session(self, sid: str, expires: int) -> Session:
        return Session(sid, expires, self._mac(f"csrf:{sid}"))

    def new(self) -> tuple[Session, str]:
        """A new session and its cookie value."""
        sid = secrets.token_urlsafe(18)
        expires = int(time.time()) + LIFETIME_S
        body = f"{sid}.{expires}"
        return self._session(sid, expires), f"{body}.{self._mac(body)}"

    def read(self, cookie: str | None) -> Session | None:
        """The session a cookie names, or None (missing, forged or expired)."""
        if not cookie:
            return None
        parts = cookie.split(".")
        if len(parts) != 3:
            return None
        sid, expires_text, mac = parts
        if not hmac.compare_digest(mac, self._mac(f"{sid}.{expires_text}")):
            return None
        try:
            expires = int(expires_text)
        except ValueError:
            return None
        if expires < time.time():
            return None
        return self._session(sid, expires)
