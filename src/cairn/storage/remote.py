"""What the cloud backends share: the location's container/prefix, clients made once per process,
a pool of threads for parallel block/part uploads, and messages that never carry a secret.

Clients are made lazily and again after a fork: a backup forks its workers after the parent has used
the store, and two processes must never share the parent's pooled HTTP connections.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import urlparse

from cairn.core.errors import UsageError

T = TypeVar("T")

# Query strings carry SAS signatures and presigned parameters; header-like pairs carry keys.
_QUERY = re.compile(r"\?[^\s'\"<>]*")
_PAIRS = re.compile(
    r"(?i)(accountkey|sharedaccesssignature|sig|signature|secret\w*|credential)=[^;&\s'\"]*"
)


@dataclass(frozen=True, slots=True)
class RemoteLocation:
    """`scheme://bucket/prefix`, normalised: no trailing slash; `key_prefix` ends with `/` or is empty."""

    scheme: str
    bucket: str
    prefix: str

    @classmethod
    def parse(cls, location: str, scheme: str) -> RemoteLocation:
        parsed = urlparse(location)
        if parsed.scheme != scheme or not parsed.netloc:
            raise UsageError(f"a {scheme} vault location is {scheme}://CONTAINER/PREFIX")
        if parsed.query or parsed.fragment or "@" in parsed.netloc:
            # Secrets never travel in a location: it is printed, logged and saved.
            raise UsageError(
                f"a {scheme} vault location takes no user, query or fragment: give secrets in the"
                " vault credentials file or the environment"
            )
        prefix = "/".join(p for p in parsed.path.split("/") if p)
        return cls(scheme, parsed.netloc, prefix)

    @property
    def url(self) -> str:
        return (
            f"{self.scheme}://{self.bucket}/{self.prefix}"
            if self.prefix
            else f"{self.scheme}://{self.bucket}"
        )

    @property
    def key_prefix(self) -> str:
        return f"{self.prefix}/" if self.prefix else ""


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` without query strings, key=value secrets or any of `secrets` (an SDK message may quote
    a request URL, and a SAS token travels in URLs)."""
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    text = _QUERY.sub("?***", text)
    text = _PAIRS.sub(lambda m: f"{m.group(1)}=***", text)
    return text.strip().splitlines()[0][:300] if text.strip() else ""


class _RedactQueries(logging.Filter):
    """Masks query strings in a library's log lines (urllib3 logs every request URL at DEBUG, and
    an Azure SAS token is in the URL)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        record.msg, record.args = redact_line(message), None
        return True


def redact_line(text: str) -> str:
    return _PAIRS.sub(lambda m: f"{m.group(1)}=***", _QUERY.sub("?***", text))


def quiet_secrets_in_logs() -> None:
    """Keep secrets out of the HTTP libraries' logs, whatever level a program sets."""
    for name in ("urllib3.connectionpool", "azure.core.pipeline.policies.http_logging_policy"):
        log = logging.getLogger(name)
        if not any(isinstance(f, _RedactQueries) for f in log.filters):
            log.addFilter(_RedactQueries())


class PerProcess(Generic[T]):
    """One `T` per process, made by `factory` on first use (and again in a forked child)."""

    def __init__(self, factory: Callable[[], T], first: T | None = None) -> None:
        """`first`, if given, is this process's value already made (so it is not made twice)."""
        self._factory = factory
        self._lock = threading.Lock()
        self._pid = os.getpid() if first is not None else -1
        self._value: T | None = first

    def get(self) -> T:
        pid = os.getpid()
        if self._pid != pid or self._value is None:
            with self._lock:
                if self._pid != pid or self._value is None:
                    self._value = self._factory()
                    self._pid = pid
        return self._value


def thread_pool(workers: int, name: str) -> PerProcess[ThreadPoolExecutor]:
    return PerProcess(lambda: ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name))
