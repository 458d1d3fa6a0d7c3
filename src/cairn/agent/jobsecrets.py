"""Passphrases a job needs, kept in the agent's memory only: never in the job history, the job's
parameters, a log or the vault.

A restore from another machine's recovery point needs that machine's passphrase. The console
puts it here (`put` returns a random reference), queues the job with the reference in its
parameters, and the executor takes it (`take`, once) when the job runs. An agent that restarts in
between has forgotten it: the job then fails saying to start the restore again.
"""

from __future__ import annotations

import secrets
import threading


class JobSecrets:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: dict[str, str] = {}

    def put(self, secret: str) -> str:
        ref = secrets.token_urlsafe(18)
        with self._lock:
            self._kept[ref] = secret
        return ref

    def take(self, ref: str) -> str | None:
        with self._lock:
            return self._kept.pop(ref, None)

    def __repr__(self) -> str:
        return f"JobSecrets(<{len(self._kept)} kept>)"
