"""S3 Object Lock for a vault created with `--object-lock DAYS` (vault.json `object_lock_days`).

Each pack, index segment and recovery point is written with COMPLIANCE retention until `DAYS`
days after it is written (S3 itself then refuses to delete or overwrite that version, whoever
asks), and Cairn never sends a delete for one whose retention still runs: prune leaves it, and a
later prune deletes it once its retention is over. The bucket must have Object Lock enabled;
`vault create` makes it so, or refuses a bucket without it. Only the S3 backend offers this.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from cairn.core.errors import UsageError
from cairn.storage.blobstore import BlobStore

LOCKED_KINDS = ("packs", "index", "points")
MAX_DAYS = 36500


def lockable(name: str) -> bool:
    parts = name.split("/")
    return len(parts) >= 4 and parts[0] == "machines" and parts[2] in LOCKED_KINDS


def backend(store: BlobStore) -> Any:
    """The backend under the wrappers (each keeps what it wraps in `inner`)."""
    found: Any = store
    for _ in range(8):
        inner = getattr(found, "inner", None)
        if inner is None:
            break
        found = inner
    return found


def check_days(days: int) -> int:
    if not 1 <= days <= MAX_DAYS:
        raise UsageError(f"--object-lock {days}: allowed: 1 to {MAX_DAYS} days")
    return days


def prepare(store: BlobStore) -> None:
    """At vault creation: the bucket has Object Lock (made so, or checked)."""
    found = backend(store)
    if not hasattr(found, "prepare_object_lock"):
        raise UsageError(
            f"--object-lock needs an S3 vault (s3://BUCKET/PREFIX); {store.location} is not one"
        )
    found.prepare_object_lock()


def still_locked(store: BlobStore, name: str) -> bool:
    """True while `name` is under Object Lock retention (False on a vault without it)."""
    check = getattr(backend(store), "locked_now", None)
    return bool(check(name)) if check is not None else False


def enable(store: BlobStore, days: int, now: Callable[[], datetime]) -> None:
    found = backend(store)
    if not hasattr(found, "enable_object_lock"):
        raise UsageError(f"the vault at {store.location} uses Object Lock, which only S3 offers")
    found.enable_object_lock(days, lockable, now)
