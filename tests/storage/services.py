"""The local cloud servers that `.ci/services.sh start` runs, as the tests reach them.

Their addresses and test accounts come from `.ci-services/env` (CAIRN_TEST_*), which `make test`
sources. A cloud test never skips: without that environment it fails and says how to start them.
"""

from __future__ import annotations

import os
import secrets

import pytest

HOW = (
    "the cloud test servers are not running: run `make test` (or `bash .ci/services.sh start`"
    " then `. .ci-services/env`) before pytest"
)


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: {HOW}", pytrace=False)
    return value


def azure_credentials() -> dict[str, str]:
    """Azurite's development account, by account name + key + endpoint."""
    return {
        "account_name": _env("CAIRN_TEST_AZURE_ACCOUNT"),
        "account_key": _env("CAIRN_TEST_AZURE_KEY"),
        "endpoint": _env("CAIRN_TEST_AZURE_ENDPOINT"),
    }


def azure_connection_string() -> str:
    c = azure_credentials()
    return (
        f"DefaultEndpointsProtocol=http;AccountName={c['account_name']};"
        f"AccountKey={c['account_key']};BlobEndpoint={c['endpoint']};"
    )


def s3_credentials() -> dict[str, str]:
    """SeaweedFS's test identity (it checks SigV4 signatures)."""
    return {
        "access_key_id": _env("CAIRN_TEST_S3_ACCESS_KEY_ID"),
        "secret_access_key": _env("CAIRN_TEST_S3_SECRET_ACCESS_KEY"),
        "endpoint_url": _env("CAIRN_TEST_S3_ENDPOINT"),
        "region": "us-east-1",
    }


def moto_endpoint() -> str:
    return _env("CAIRN_TEST_MOTO_ENDPOINT")


def unique(kind: str) -> str:
    """A fresh container or bucket name (3-63 lowercase characters)."""
    return f"cairn-{kind}-{secrets.token_hex(6)}"


# SeaweedFS gives every bucket its own volumes, and a server has a few dozen: S3 tests share one
# bucket, each under its own prefix. Azurite has no such limit: each Azure test has its container.
S3_BUCKET = "cairn-tests"


def location(backend: str, kind: str, prefix: str = "p") -> str:
    """A fresh, empty vault location on the test server of `backend` ("azure" or "s3")."""
    if backend == "azure":
        return f"azure://{unique(kind)}/{prefix}".rstrip("/")
    return f"s3://{S3_BUCKET}/{kind}-{secrets.token_hex(6)}/{prefix}".rstrip("/")
