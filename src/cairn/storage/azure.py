"""A `BlobStore` in an Azure Blob Storage container: `azure://CONTAINER/PREFIX`.

Small blobs go up in one Put Blob. A blob larger than `single_put_bytes` (a pack, ~8 MiB) goes up as
staged blocks, several at once, committed by one Put Block List: Azure makes a blob visible only
when its block list is committed, so a reader never sees part of one (the contract's atomic put).
Block ids carry a random per-upload tag, so two uploads of one name never mix blocks.

Errors: 404 -> `BlobNotFound`; timeouts, connection failures, 408/429/5xx and Azure's "ServerBusy"
-> `TransientStorageError`; everything else (403 authentication, other 4xx) -> `StorageError`. Every
message names the vault location and the cause, never a key or a SAS token (SDK messages may quote
request URLs; they are redacted). The container is created on the first write that finds it missing.
"""

from __future__ import annotations

import base64
import logging
import os
import secrets
from collections.abc import Iterator, Mapping
from typing import Any

from azure.core.credentials import AzureNamedKeyCredential, AzureSasCredential
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import BlobBlock, BlobServiceClient, ContainerClient

from cairn.core.errors import (
    AccessDenied,
    BlobNotFound,
    StorageError,
    TransientStorageError,
    UsageError,
)
from cairn.storage.blobstore import BlobInfo, check_name
from cairn.storage.remote import (
    PerProcess,
    RemoteLocation,
    quiet_secrets_in_logs,
    redact,
    thread_pool,
)
from cairn.storage.secrets import from_environment

# The SDK logs every request at INFO and urllib3 every URL at DEBUG: a SAS token is in the URL.
logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)
quiet_secrets_in_logs()

SINGLE_PUT_BYTES = 4 << 20
BLOCK_BYTES = 4 << 20
PARALLEL_BLOCKS = 4
_TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}
_TRANSIENT_CODES = {"ServerBusy", "OperationTimedOut", "InternalError"}

CREDENTIAL_HELP = (
    "give Azure credentials: in the vault credentials file `connection_string`, or `account_name`"
    " with `account_key` or `sas_token` (and `endpoint` for a non-Azure service URL); or in the"
    " environment AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY"
)


def _service(
    credentials: Mapping[str, str], *, retries: int, timeout_s: float
) -> tuple[BlobServiceClient, list[str]]:
    """A service client from the credential keys, and the secret values (to redact them)."""
    opts: dict[str, Any] = {
        "retry_total": retries,
        "connection_timeout": min(timeout_s, 20.0),
        "read_timeout": timeout_s,
        "logging_enable": False,
    }
    conn = credentials.get("connection_string")
    if conn:
        parts = dict(p.split("=", 1) for p in conn.split(";") if "=" in p)
        hidden = [
            conn,
            *(v for k, v in parts.items() if k.lower() in ("accountkey", "sharedaccesssignature")),
        ]
        try:
            return BlobServiceClient.from_connection_string(conn, **opts), hidden
        except (ValueError, AzureError):
            raise UsageError("the Azure connection string is malformed") from None
    account = credentials.get("account_name")
    if not account:
        raise UsageError(f"no Azure credentials: {CREDENTIAL_HELP}")
    endpoint = credentials.get("endpoint") or f"https://{account}.blob.core.windows.net"
    key = credentials.get("account_key")
    sas = credentials.get("sas_token")
    if key:
        credential: Any = AzureNamedKeyCredential(account, key)
        hidden = [key]
    elif sas:
        credential = AzureSasCredential(sas.lstrip("?"))
        hidden = [sas, sas.lstrip("?")]
    else:
        raise UsageError(
            f"Azure account {account!r} has no account_key or sas_token: {CREDENTIAL_HELP}"
        )
    return BlobServiceClient(endpoint.rstrip("/"), credential=credential, **opts), hidden


def credentials_from_env(environ: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """Complete Azure credentials from the environment (secrets.ENVIRONMENT), or None."""
    found = from_environment("azure://", os.environ if environ is None else environ)
    if "connection_string" in found:
        return found
    if "account_name" in found and ("account_key" in found or "sas_token" in found):
        return found
    return None


class AzureBlobStore:
    def __init__(
        self,
        location: str,
        credentials: Mapping[str, str],
        *,
        retries: int = 3,
        timeout_s: float = 60.0,
        single_put_bytes: int = SINGLE_PUT_BYTES,
        block_bytes: int = BLOCK_BYTES,
        parallel_blocks: int = PARALLEL_BLOCKS,
    ) -> None:
        self._loc = RemoteLocation.parse(location, "azure")
        self.location = self._loc.url
        creds = dict(credentials)

        def make() -> ContainerClient:
            service = _service(creds, retries=retries, timeout_s=timeout_s)[0]
            return service.get_container_client(self._loc.bucket)

        # Made now, so bad credential keys fail here; a forked child makes its own.
        service, self._hidden = _service(creds, retries=retries, timeout_s=timeout_s)
        self._container = PerProcess(make, service.get_container_client(self._loc.bucket))
        self._single = single_put_bytes
        self._block = block_bytes
        self._pool = thread_pool(parallel_blocks, "cairn-azure-block")

    def __repr__(self) -> str:
        return f"AzureBlobStore({self.location!r})"

    def _key(self, name: str) -> str:
        return self._loc.key_prefix + check_name(name)

    def _client(self) -> ContainerClient:
        return self._container.get()

    def _fail(self, what: str, name: str, e: Exception) -> StorageError:
        where = f"the vault {self.location}: {what} {name}"
        if isinstance(e, ResourceNotFoundError):
            # A missing container holds no blobs: reading from it is a missing blob too.
            return BlobNotFound(f"{self.location}: no blob {name}")
        if isinstance(e, ServiceRequestError | ServiceResponseError):
            cause = redact(str(e), self._hidden) or type(e).__name__
            return TransientStorageError(f"{where} failed: cannot reach the service ({cause})")
        if isinstance(e, HttpResponseError):
            status = e.status_code or 0
            raw = getattr(e, "error_code", None) or e.reason or ""
            code = str(getattr(raw, "value", raw))
            cause = f"HTTP {status} {code}".strip()
            if status in _TRANSIENT_STATUS or code in _TRANSIENT_CODES:
                return TransientStorageError(f"{where} failed: {cause} (try again later)")
            if isinstance(e, ClientAuthenticationError) or status in (401, 403):
                return AccessDenied(
                    f"{where} failed: access denied ({cause}): check the account, key or SAS token"
                    " and its permissions"
                )
            return StorageError(f"{where} failed: {cause}")
        return StorageError(f"{where} failed: {redact(str(e), self._hidden) or type(e).__name__}")

    # -- writing

    def _upload(self, key: str, data: memoryview, *, overwrite: bool) -> None:
        blob = self._client().get_blob_client(key)
        if len(data) <= self._single or not overwrite:
            blob.upload_blob(bytes(data), overwrite=overwrite, length=len(data))
            return
        tag = secrets.token_hex(6)
        ids = [
            base64.b64encode(f"{tag}-{i:06d}".encode()).decode()
            for i in range((len(data) + self._block - 1) // self._block)
        ]

        def stage(i: int) -> None:
            part = data[i * self._block : (i + 1) * self._block]
            blob.stage_block(ids[i], bytes(part), length=len(part))

        for f in [self._pool.get().submit(stage, i) for i in range(len(ids))]:
            f.result()  # an error in any block fails the put; uncommitted blocks expire by themselves
        blob.commit_block_list([BlobBlock(block_id=b) for b in ids])

    def _put(self, name: str, data: bytes | memoryview, *, overwrite: bool) -> None:
        key = self._key(name)
        view = memoryview(data).cast("B")
        try:
            try:
                self._upload(key, view, overwrite=overwrite)
            except ResourceNotFoundError as e:
                if getattr(e, "error_code", None) != "ContainerNotFound":
                    raise
                self._create_container()
                self._upload(key, view, overwrite=overwrite)
        except ResourceExistsError as e:
            if not overwrite:
                raise
            raise self._fail("writing", name, e) from None
        except AzureError as e:
            raise self._fail("writing", name, e) from None

    def _create_container(self) -> None:
        try:
            self._client().create_container()
        except ResourceExistsError:
            pass

    def put(self, name: str, data: bytes | memoryview) -> None:
        self._put(name, data, overwrite=True)

    def put_if_absent(self, name: str, data: bytes | memoryview) -> bool:
        """Create `name` only if no blob has it (If-None-Match: *); False if one exists."""
        try:
            self._put(name, data, overwrite=False)
        except ResourceExistsError:
            return False
        return True

    # -- reading

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        key = self._key(name)
        if length is not None and length <= 0:
            self.stat(name)
            return b""
        try:
            stream = (
                self._client()
                .get_blob_client(key)
                .download_blob(offset=offset or None if length is None else offset, length=length)
            )
            return stream.readall()
        except HttpResponseError as e:
            if e.status_code == 416:  # the range starts at or past the end
                self.stat(name)
                return b""
            raise self._fail("reading", name, e) from None
        except AzureError as e:
            raise self._fail("reading", name, e) from None

    def stat(self, name: str) -> BlobInfo:
        try:
            props = self._client().get_blob_client(self._key(name)).get_blob_properties()
        except AzureError as e:
            raise self._fail("reading", name, e) from None
        return BlobInfo(name, int(props.size))

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        start = len(self._loc.key_prefix)
        try:
            for b in self._client().list_blobs(name_starts_with=self._loc.key_prefix + prefix):
                yield BlobInfo(b.name[start:], int(b.size))
        except ResourceNotFoundError:
            return  # no container yet: an empty vault location
        except AzureError as e:
            raise self._fail("listing", prefix or "/", e) from None

    def delete(self, name: str) -> None:
        try:
            self._client().get_blob_client(self._key(name)).delete_blob()
        except AzureError as e:
            raise self._fail("deleting", name, e) from None
