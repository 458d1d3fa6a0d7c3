"""Vault locations are URLs: `/path` or `file:///path` (local), `memory://` (tests).

`azure://container/prefix` and `s3://bucket/prefix` are reserved for the cloud backends; they are
the remote vaults (`is_remote`), the ones the throttle applies to.
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

from cairn.core.errors import UsageError
from cairn.storage.blobstore import BlobStore
from cairn.storage.local import LocalBlobStore
from cairn.storage.memory import MemoryBlobStore


def normalize(location: str) -> str:
    """The canonical form of a location: an absolute path for local folders."""
    if "://" not in location:
        return os.path.abspath(os.path.expanduser(location))
    parsed = urlparse(location)
    if parsed.scheme == "file":
        return os.path.abspath(parsed.path)
    return location


REMOTE_SCHEMES = ("azure", "s3")


def is_remote(location: str) -> bool:
    """True for a vault reached over the network (azure://, s3://): the throttle applies to it."""
    return "://" in location and urlparse(location).scheme in REMOTE_SCHEMES


def open_store(location: str) -> BlobStore:
    loc = normalize(location)
    if loc.startswith("/"):
        return LocalBlobStore(loc)
    scheme = urlparse(loc).scheme
    if scheme == "memory":
        return MemoryBlobStore(loc)
    if scheme in ("azure", "s3"):
        raise UsageError(f"{scheme}:// vaults are not supported yet; use a local folder")
    raise UsageError(f"unknown vault location {location!r}: give a folder path (or file:///path)")
