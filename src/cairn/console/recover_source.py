"""Where Recover Data reads from, kept between its pages: this machine's store, or another
machine's opened with a vault credentials file and its passphrase.

Another machine's passphrase is typed once, on the first page; the store it opened is kept here,
in the agent's memory, under a random id the wizard's forms carry (never the passphrase), for 30
minutes and for the console session that opened it only. When the restore is queued, the
passphrase goes to the agent's `JobSecrets` (agent/jobsecrets.py), not into the job history.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from cairn.vault.repository import Repository

TTL_S = 30 * 60


@dataclass
class Source:
    repo: Repository
    own: bool  # this machine's store
    credentials_file: Path | None = None
    passphrase: str = field(default="", repr=False)
    owner: str = field(default="", repr=False)  # the console session's CSRF token
    opened: float = field(default_factory=time.monotonic)


class Sources:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: dict[str, Source] = {}

    def keep(self, source: Source) -> str:
        ref = secrets.token_urlsafe(18)
        with self._lock:
            self._drop_old()
            self._kept[ref] = source
        return ref

    def get(self, ref: str, owner: str) -> Source | None:
        with self._lock:
            self._drop_old()
            source = self._kept.get(ref)
        if source is None or not secrets.compare_digest(source.owner, owner):
            return None
        return source

    def _drop_old(self) -> None:
        now = time.monotonic()
        for ref in [r for r, s in self._kept.items() if now - s.opened > TTL_S]:
            del self._kept[ref]


SOURCES = Sources()
