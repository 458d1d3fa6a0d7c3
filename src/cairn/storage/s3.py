"""A `BlobStore` in an S3 bucket: `s3://BUCKET/PREFIX`, on boto3 (bench/README.md says why boto3).

A blob up to `multipart_bytes` goes up in one PutObject; a larger one as a multipart upload whose
parts go up several at once. S3 makes an object visible only when its PutObject or
CompleteMultipartUpload finishes, so a reader never sees part of one; a failed multipart upload is
aborted. `put_if_absent` sends If-None-Match: * (create only), for servers that honour it.

Errors: 404 / NoSuchKey -> `BlobNotFound`; connection failures, timeouts, 5xx, 429 and throttling
codes -> `TransientStorageError`; everything else (403, bad signature, other 4xx) -> `StorageError`.
Every message names the vault location and the cause, never a key. The bucket is created on the
first write that finds it missing.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectionError,
    HTTPClientError,
    NoCredentialsError,
    ReadTimeoutError,
)

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

quiet_secrets_in_logs()

MULTIPART_BYTES = 16 << 20
PART_BYTES = 8 << 20
PARALLEL_PARTS = 4
_TRANSIENT_CODES = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "InternalError",
    "ServiceUnavailable",
    "RequestLimitExceeded",
}
_AUTH_CODES = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "AuthorizationHeaderMalformed",
}

CREDENTIAL_HELP = (
    "give S3 credentials: in the vault credentials file `access_key_id` and `secret_access_key`"
    " (optional `region`, `endpoint_url`), or in the environment AWS_ACCESS_KEY_ID and"
    " AWS_SECRET_ACCESS_KEY (optional AWS_DEFAULT_REGION, AWS_ENDPOINT_URL)"
)

log = logging.getLogger("cairn.storage.s3")


def credentials_from_env(environ: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """Complete S3 credentials from the environment (secrets.ENVIRONMENT), or None."""
    found = from_environment("s3://", os.environ if environ is None else environ)
    if found.get("access_key_id") and found.get("secret_access_key"):
        return found
    return None


def _client(credentials: Mapping[str, str], *, retries: int, timeout_s: float, pool: int) -> Any:
    key = credentials.get("access_key_id")
    secret = credentials.get("secret_access_key")
    if not (key and secret):
        raise UsageError(f"no S3 credentials: {CREDENTIAL_HELP}")
    endpoint = credentials.get("endpoint_url") or None
    config = Config(
        retries={"mode": "standard", "total_max_attempts": retries + 1},
        connect_timeout=min(timeout_s, 20.0),
        read_timeout=timeout_s,
        max_pool_connections=pool,
        # A custom endpoint (SeaweedFS, MinIO, ...) rarely resolves bucket host names.
        s3={"addressing_style": "path" if endpoint else "auto"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=credentials.get("region") or "us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=config,
    )


def _status(e: ClientError) -> tuple[int, str]:
    meta = e.response.get("ResponseMetadata", {})
    return int(meta.get("HTTPStatusCode") or 0), str(e.response.get("Error", {}).get("Code", ""))


class S3BlobStore:
    def __init__(
        self,
        location: str,
        credentials: Mapping[str, str],
        *,
        retries: int = 3,
        timeout_s: float = 60.0,
        multipart_bytes: int = MULTIPART_BYTES,
        part_bytes: int = PART_BYTES,
        parallel_parts: int = PARALLEL_PARTS,
    ) -> None:
        self._loc = RemoteLocation.parse(location, "s3")
        self.location = self._loc.url
        creds = dict(credentials)
        self._hidden = [creds.get("secret_access_key", ""), creds.get("access_key_id", "")]

        def make() -> Any:
            return _client(creds, retries=retries, timeout_s=timeout_s, pool=4 * parallel_parts)

        self._s3 = PerProcess(make, make())  # made now, so missing keys fail here
        self._bucket = self._loc.bucket
        self._multipart = max(multipart_bytes, 5 << 20)
        self._part = max(part_bytes, 5 << 20)
        self._pool = thread_pool(parallel_parts, "cairn-s3-part")
        self._lock: tuple[int, Callable[[str], bool], Callable[[], datetime]] | None = None

    def __repr__(self) -> str:
        return f"S3BlobStore({self.location!r})"

    def _key(self, name: str) -> str:
        return self._loc.key_prefix + check_name(name)

    def _fail(self, what: str, name: str, e: Exception) -> StorageError:
        where = f"the vault {self.location}: {what} {name}"
        if isinstance(e, ClientError):
            status, code = _status(e)
            cause = f"HTTP {status} {code}".strip()
            if status == 404 and code in ("NoSuchKey", "404", "NotFound", "NoSuchBucket", ""):
                return BlobNotFound(f"{self.location}: no blob {name}")
            if status >= 500 or status == 429 or code in _TRANSIENT_CODES:
                return TransientStorageError(f"{where} failed: {cause} (try again later)")
            if status in (401, 403) or code in _AUTH_CODES:
                return AccessDenied(
                    f"{where} failed: access denied ({cause}): check the access key, the secret"
                    " and the key's permissions on the bucket"
                )
            return StorageError(f"{where} failed: {cause}")
        if isinstance(
            e, ConnectionError | HTTPClientError | ConnectionClosedError | ReadTimeoutError
        ):
            cause = redact(str(e), self._hidden) or type(e).__name__
            return TransientStorageError(f"{where} failed: cannot reach the service ({cause})")
        if isinstance(e, NoCredentialsError):
            return StorageError(f"{where} failed: {CREDENTIAL_HELP}")
        return StorageError(f"{where} failed: {redact(str(e), self._hidden) or type(e).__name__}")

    # -- writing

    def _upload(self, key: str, data: memoryview, extra: dict[str, str]) -> None:
        s3 = self._s3.get()
        if len(data) <= self._multipart or extra:
            s3.put_object(Bucket=self._bucket, Key=key, Body=bytes(data), **extra)
            return
        upload_id = s3.create_multipart_upload(Bucket=self._bucket, Key=key)["UploadId"]
        try:
            count = (len(data) + self._part - 1) // self._part

            def part(i: int) -> dict[str, Any]:
                body = bytes(data[i * self._part : (i + 1) * self._part])
                r = s3.upload_part(
                    Bucket=self._bucket, Key=key, UploadId=upload_id, PartNumber=i + 1, Body=body
                )
                return {"PartNumber": i + 1, "ETag": r["ETag"]}

            parts = [f.result() for f in [self._pool.get().submit(part, i) for i in range(count)]]
            s3.complete_multipart_upload(
                Bucket=self._bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            try:
                s3.abort_multipart_upload(Bucket=self._bucket, Key=key, UploadId=upload_id)
            except (ClientError, BotoCoreError):
                pass  # the server's lifecycle rules reclaim what an abort could not
            raise

    def _put(self, name: str, data: bytes | memoryview, extra: dict[str, str]) -> None:
        key = self._key(name)
        view = memoryview(data).cast("B")
        try:
            try:
                self._upload(key, view, extra)
            except ClientError as e:
                if _status(e)[1] != "NoSuchBucket":
                    raise
                self._create_bucket()
                self._upload(key, view, extra)
        except ClientError as e:
            if extra and _status(e) == (412, "PreconditionFailed"):
                raise
            raise self._fail("writing", name, e) from None
        except BotoCoreError as e:
            raise self._fail("writing", name, e) from None

    def _create_bucket(self) -> None:
        s3 = self._s3.get()
        region = s3.meta.region_name
        args: dict[str, Any] = {"Bucket": self._bucket}
        if region and region != "us-east-1":
            args["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            s3.create_bucket(**args)
        except ClientError as e:
            if _status(e)[1] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise

    # -- S3 Object Lock (a vault created with --object-lock DAYS; vault/objectlock.py)

    def prepare_object_lock(self) -> None:
        """Make the bucket with Object Lock enabled, or check that the existing one has it."""
        s3 = self._s3.get()
        try:
            config = s3.get_object_lock_configuration(Bucket=self._bucket)
        except ClientError as e:
            code = _status(e)[1]
            if code == "NoSuchBucket":
                try:
                    s3.create_bucket(Bucket=self._bucket, ObjectLockEnabledForBucket=True)
                except ClientError as made:
                    raise self._fail("creating the bucket with Object Lock", "/", made) from None
                return
            if code == "ObjectLockConfigurationNotFoundError":
                raise UsageError(
                    f"bucket {self._bucket} has no Object Lock (it can only be enabled when a"
                    " bucket is created): use a new bucket for a vault with --object-lock"
                ) from None
            raise self._fail("reading the Object Lock setting of", "/", e) from None
        except BotoCoreError as e:
            raise self._fail("reading the Object Lock setting of", "/", e) from None
        if config.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") != "Enabled":
            raise UsageError(f"bucket {self._bucket} has Object Lock turned off: use a new bucket")

    def enable_object_lock(
        self, days: int, lockable: Callable[[str], bool], now: Callable[[], datetime]
    ) -> None:
        """From now on, put the names `lockable` accepts with COMPLIANCE retention for `days`
        days, and leave them (no delete request) while their retention runs."""
        self._lock = (days, lockable, now)

    def retained_until(self, name: str) -> datetime | None:
        try:
            head = self._s3.get().head_object(Bucket=self._bucket, Key=self._key(name))
        except (ClientError, BotoCoreError) as e:
            raise self._fail("reading", name, e) from None
        until = head.get("ObjectLockRetainUntilDate")
        return until if isinstance(until, datetime) else None

    def locked_now(self, name: str) -> bool:
        """True while `name` (one Object Lock covers) is under retention."""
        if self._lock is None or not self._lock[1](name):
            return False
        until = self.retained_until(name)
        return until is not None and until > self._lock[2]()

    def _lock_args(self, name: str) -> dict[str, Any]:
        if self._lock is None or not self._lock[1](name):
            return {}
        days, _, now = self._lock
        return {
            "ObjectLockMode": "COMPLIANCE",
            "ObjectLockRetainUntilDate": now() + timedelta(days=days),
        }

    def put(self, name: str, data: bytes | memoryview) -> None:
        extra = self._lock_args(name)
        if extra:  # S3 wants a checksum with every Object Lock write
            digest = hashlib.md5(memoryview(data).cast("B"), usedforsecurity=False).digest()
            extra["ContentMD5"] = base64.b64encode(digest).decode()
        self._put(name, data, extra)

    def put_if_absent(self, name: str, data: bytes | memoryview) -> bool:
        """Create `name` only if no object has it (If-None-Match: *); False if one exists."""
        try:
            self._put(name, data, {"IfNoneMatch": "*"})
        except ClientError:
            return False
        return True

    # -- reading

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        key = self._key(name)
        if length is not None and length <= 0:
            self.stat(name)
            return b""
        args: dict[str, Any] = {"Bucket": self._bucket, "Key": key}
        if offset or length is not None:
            end = "" if length is None else str(offset + length - 1)
            args["Range"] = f"bytes={offset}-{end}"
        try:
            body = self._s3.get().get_object(**args)["Body"]
            try:
                return bytes(body.read())
            finally:
                body.close()
        except ClientError as e:
            if _status(e)[0] == 416:  # the range starts at or past the end
                self.stat(name)
                return b""
            raise self._fail("reading", name, e) from None
        except BotoCoreError as e:
            raise self._fail("reading", name, e) from None

    def stat(self, name: str) -> BlobInfo:
        try:
            head = self._s3.get().head_object(Bucket=self._bucket, Key=self._key(name))
        except (ClientError, BotoCoreError) as e:
            raise self._fail("reading", name, e) from None
        return BlobInfo(name, int(head["ContentLength"]))

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        start = len(self._loc.key_prefix)
        pages = self._s3.get().get_paginator("list_objects_v2")
        try:
            for page in pages.paginate(Bucket=self._bucket, Prefix=self._loc.key_prefix + prefix):
                for obj in page.get("Contents", ()):
                    yield BlobInfo(obj["Key"][start:], int(obj["Size"]))
        except ClientError as e:
            if _status(e)[1] == "NoSuchBucket":
                return  # no bucket yet: an empty vault location
            raise self._fail("listing", prefix or "/", e) from None
        except BotoCoreError as e:
            raise self._fail("listing", prefix or "/", e) from None

    def delete(self, name: str) -> None:
        # S3 deletes a missing key without complaint; the contract wants BlobNotFound.
        if self.locked_now(name):  # BlobNotFound for a missing key, as stat
            log.info("%s is under Object Lock retention: left for a later prune", name)
            return
        self.stat(name)
        try:
            self._s3.get().delete_object(Bucket=self._bucket, Key=self._key(name))
        except (ClientError, BotoCoreError) as e:
            raise self._fail("deleting", name, e) from None
