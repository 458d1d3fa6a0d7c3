"""Vault locations are URLs: `/path` or `file:///path` (local), `azure://CONTAINER/PREFIX`,
`s3://BUCKET/PREFIX`, and `memory://` (tests).

Secrets never travel in a location. `open_store` takes them as `credentials`, a mapping whose keys
the vault credentials file uses too:

    azure  connection_string | account_name + account_key | account_name + sas_token;
           optional endpoint (the blob service URL, e.g. http://127.0.0.1:10000/devstoreaccount1)
    s3     access_key_id + secret_access_key; optional region, endpoint_url

Without credentials they come from the environment, under each SDK's standard names:
AZURE_STORAGE_CONNECTION_STRING (or AZURE_STORAGE_ACCOUNT + AZURE_STORAGE_KEY, or
AZURE_STORAGE_ACCOUNT + AZURE_STORAGE_SAS_TOKEN); AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY,
AWS_DEFAULT_REGION, AWS_ENDPOINT_URL. The cloud SDKs are imported only when a cloud vault is opened.
The remote vaults (`is_remote`) are the ones the retries and the throttle apply to.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlparse

from cairn.core.errors import UsageError
from cairn.storage.blobstore import BlobStore
from cairn.storage.local import LocalBlobStore
from cairn.storage.memory import MemoryBlobStore

REMOTE_SCHEMES = ("azure", "s3")


def normalize(location: str) -> str:
    """The canonical form of a location: an absolute path for local folders; a cloud location
    without a trailing slash."""
    if "://" not in location:
        return os.path.abspath(os.path.expanduser(location))
    parsed = urlparse(location)
    if parsed.scheme == "file":
        return os.path.abspath(parsed.path)
    if parsed.scheme in REMOTE_SCHEMES:
        from cairn.storage.remote import RemoteLocation

        return RemoteLocation.parse(location, parsed.scheme).url
    return location


def is_remote(location: str) -> bool:
    """True for a vault reached over a network (azure://, s3://): its failures may be transient,
    and the throttle applies to it."""
    return "://" in location and urlparse(location).scheme in REMOTE_SCHEMES


def open_store(
    location: str, credentials: Mapping[str, str] | None = None, *, sdk_retries: int | None = None
) -> BlobStore:
    """The backend for a location. `credentials` (the backend's secrets, from a vault credentials
    file or the environment) are ignored by the local and memory backends. `sdk_retries` sets how
    often a cloud SDK retries by itself (its default when None; 0 under a retrying wrapper)."""
    loc = normalize(location)
    if loc.startswith("/"):
        return LocalBlobStore(loc)
    scheme = urlparse(loc).scheme
    if scheme == "memory":
        return MemoryBlobStore(loc)
    if scheme == "azure":
        from cairn.storage import azure

        creds = credentials or azure.credentials_from_env()
        if not creds:
            raise UsageError(f"no credentials for the vault {loc}: {azure.CREDENTIAL_HELP}")
        if sdk_retries is not None:
            return azure.AzureBlobStore(loc, creds, retries=sdk_retries)
        return azure.AzureBlobStore(loc, creds)
    if scheme == "s3":
        from cairn.storage import s3

        creds = credentials or s3.credentials_from_env()
        if not creds:
            raise UsageError(f"no credentials for the vault {loc}: {s3.CREDENTIAL_HELP}")
        if sdk_retries is not None:
            return s3.S3BlobStore(loc, creds, retries=sdk_retries)
        return s3.S3BlobStore(loc, creds)
    raise UsageError(
        f"unknown vault location {location!r}: give a folder path (or file:///path),"
        " azure://CONTAINER/PREFIX or s3://BUCKET/PREFIX"
    )
