"""What the cloud backends add to the conformance suite: their locations, credentials, error
mapping (missing / transient / permanent, never a secret) and parallel block uploads."""

from __future__ import annotations

import base64
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest
from azure.storage.blob import (
    AccountSasPermissions,
    BlobServiceClient,
    ResourceTypes,
    generate_account_sas,
)

from cairn.core.errors import BlobNotFound, StorageError, TransientStorageError, UsageError
from cairn.engine.session import open_vault_store
from cairn.storage.azure import AzureBlobStore
from cairn.storage.blobstore import BlobStore
from cairn.storage.location import is_remote, normalize, open_store
from cairn.storage.retrying import RetryingBlobStore
from cairn.storage.s3 import S3BlobStore
from tests.storage import services
from tests.storage.faults import Fault, FaultProxy

WRONG_AZURE_KEY = base64.b64encode(b"not-the-key-" * 6).decode()
WRONG_S3_SECRET = "wrong-secret-7f3a9c1e"


def test_locations() -> None:
    assert is_remote("azure://c/p") and is_remote("s3://b")
    assert not is_remote("/srv/vault") and not is_remote("file:///srv") and not is_remote("rel")
    assert normalize("s3://bucket/a//b/") == "s3://bucket/a/b"
    assert normalize("azure://container/") == "azure://container"
    for bad in ("s3://user:secret@bucket/p", "azure://c/p?sig=abc", "s3:///p"):
        with pytest.raises(UsageError) as e:
            open_store(bad, {"access_key_id": "k", "secret_access_key": "s"})
        assert "secret" not in str(e.value).replace("secrets", "") and "abc" not in str(e.value)


def test_no_credentials_anywhere_is_a_usage_error_naming_what_to_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in list(os.environ):
        if name.startswith(("AWS_", "AZURE_")):
            monkeypatch.delenv(name)
    with pytest.raises(UsageError, match="AZURE_STORAGE_CONNECTION_STRING"):
        open_store("azure://container/p")
    with pytest.raises(UsageError, match="AWS_ACCESS_KEY_ID"):
        open_store("s3://bucket/p")
    with pytest.raises(UsageError, match="account_key or sas_token"):
        open_store("azure://container/p", {"account_name": "a"})


def test_credentials_come_from_the_sdks_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    s3 = services.s3_credentials()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3["access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3["secret_access_key"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3["endpoint_url"])
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", services.azure_connection_string())
    for location in (services.location("s3", "env"), services.location("azure", "env")):
        store = open_store(location)
        store.put("x", b"from the environment")
        assert store.get("x") == b"from the environment"
    az = services.azure_credentials()
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING")
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT", az["account_name"])
    monkeypatch.setenv("AZURE_STORAGE_KEY", az["account_key"])
    # The account + key form has no endpoint variable: it means the real Azure service.
    store = open_store("azure://c-env/p")
    assert isinstance(store, AzureBlobStore) and store.location == "azure://c-env/p"


def test_two_prefixes_in_one_bucket_do_not_see_each_other() -> None:
    s3_base = services.location("s3", "pfx", "")
    azure_base = services.location("azure", "pfx", "")
    for make in (
        lambda p: S3BlobStore(f"{s3_base}/{p}", services.s3_credentials()),
        lambda p: AzureBlobStore(f"{azure_base}/{p}", services.azure_credentials()),
    ):
        a, b, top = make("one"), make("one-two"), make("")
        a.put("x", b"a")
        b.put("x", b"b")
        assert [i.name for i in a.list("")] == ["x"]
        assert a.get("x") == b"a" and b.get("x") == b"b"
        assert sorted(i.name for i in top.list("")) == ["one-two/x", "one/x"]


def _assert_clean(e: BaseException, *secrets: str) -> None:
    text = f"{e} {e!r} {e.args}"
    for s in secrets:
        assert s not in text
    assert e.__cause__ is None and e.__suppress_context__


@pytest.mark.parametrize("backend", ["azure", "s3"])
def test_a_wrong_key_is_a_clear_permanent_error_without_the_secret(
    backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    if backend == "azure":
        creds = {**services.azure_credentials(), "account_key": WRONG_AZURE_KEY}
        secret = WRONG_AZURE_KEY
        store: BlobStore = AzureBlobStore(services.location("azure", "key"), creds)
    else:
        creds = {**services.s3_credentials(), "secret_access_key": WRONG_S3_SECRET}
        secret = WRONG_S3_SECRET
        store = S3BlobStore(services.location("s3", "key"), creds)
    assert secret not in repr(store) and secret not in store.location
    for op in (lambda: store.put("vault.json", b"x"), lambda: store.get("vault.json")):
        with pytest.raises(StorageError) as e:
            op()
        assert not isinstance(e.value, TransientStorageError | BlobNotFound)
        assert store.location in str(e.value)
        assert "access denied" in str(e.value)
        _assert_clean(e.value, secret)
    assert secret not in caplog.text


def test_a_sas_token_never_shows_in_errors() -> None:
    sas = "sv=2025-11-05&ss=b&srt=sco&sp=rl&se=2030-01-01&sig=c2VjcmV0LXNpZ25hdHVyZQ%3D%3D"
    creds = {
        "account_name": services.azure_credentials()["account_name"],
        "sas_token": sas,
        "endpoint": "http://127.0.0.1:1/devstoreaccount1",  # nothing listens: the URL is quoted
    }
    store = AzureBlobStore("azure://container-x/p", creds, retries=0, timeout_s=2)
    with pytest.raises(TransientStorageError) as e:
        store.get("vault.json")
    _assert_clean(e.value, sas, "c2VjcmV0LXNpZ25hdHVyZQ")


def test_a_sas_token_works_and_is_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    az = services.azure_credentials()
    sas = generate_account_sas(
        az["account_name"],
        az["account_key"],
        resource_types=ResourceTypes(service=True, container=True, object=True),
        permission=AccountSasPermissions(
            read=True, write=True, list=True, delete=True, create=True
        ),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    signature = parse_qs(sas)["sig"][0]
    caplog.set_level(logging.DEBUG)
    creds = {"account_name": az["account_name"], "sas_token": sas, "endpoint": az["endpoint"]}
    store = AzureBlobStore(services.location("azure", "sas"), creds)
    store.put("x", b"signed")
    assert store.get("x") == b"signed"
    with pytest.raises(BlobNotFound) as e:
        store.get("missing")
    for text in (caplog.text, str(e.value), repr(store)):
        assert signature not in text and sas not in text


def _s3_through(proxy: FaultProxy, bucket: str, timeout_s: float = 5.0) -> S3BlobStore:
    creds = {"access_key_id": "test", "secret_access_key": "test", "endpoint_url": proxy.url}
    return S3BlobStore(f"s3://{bucket}/p", creds, retries=0, timeout_s=timeout_s)


def _azure_through(proxy: FaultProxy, container: str, timeout_s: float = 5.0) -> AzureBlobStore:
    creds = {**services.azure_credentials(), "endpoint": proxy.url + "/devstoreaccount1"}
    return AzureBlobStore(f"azure://{container}/p", creds, retries=0, timeout_s=timeout_s)


@pytest.fixture(params=["s3-moto", "azure-azurite"])
def through_proxy(request: pytest.FixtureRequest) -> Iterator[tuple[FaultProxy, BlobStore]]:
    if request.param == "s3-moto":
        proxy = FaultProxy(services.moto_endpoint())
        make: Callable[..., BlobStore] = _s3_through
    else:
        proxy = FaultProxy(services.azure_credentials()["endpoint"])
        make = _azure_through
    with proxy.running():
        store = make(proxy, services.unique("fault"))
        store.put("blob", b"content")
        yield proxy, store


TRANSIENT = [
    Fault(503, "SlowDown"),
    Fault(503, "ServerBusy"),
    Fault(500, "InternalError"),
    Fault(429, "TooManyRequests"),
    Fault(0),  # connection reset
]


@pytest.mark.parametrize("fault", TRANSIENT, ids=lambda f: f"{f.status}-{f.code or 'reset'}")
def test_staged_transient_faults_are_transient(
    through_proxy: tuple[FaultProxy, BlobStore], fault: Fault
) -> None:
    proxy, store = through_proxy
    ops: list[Callable[[], Any]] = [
        lambda: store.get("blob"),
        lambda: store.put("other", b"x"),
        lambda: list(store.list("")),
    ]
    for op in ops:
        proxy.stage(fault, fault, fault)  # more than one: a client may retry a reset once
        with pytest.raises(TransientStorageError) as e:
            op()
        assert store.location in str(e.value)
        proxy.faults.clear()
    assert store.get("blob") == b"content"


@pytest.mark.parametrize("backend", ["s3-moto", "azure-azurite"])
def test_a_server_that_does_not_answer_in_time_is_transient(backend: str) -> None:
    s3 = backend == "s3-moto"
    proxy = FaultProxy(services.moto_endpoint() if s3 else services.azure_credentials()["endpoint"])
    with proxy.running():
        make = _s3_through if s3 else _azure_through
        store = make(proxy, services.unique("slow"), timeout_s=1.0)
        store.put("blob", b"content")
        proxy.stage(Fault(delay_s=3.0), Fault(delay_s=3.0))
        with pytest.raises(TransientStorageError) as e:
            store.get("blob")
        assert store.location in str(e.value)


def test_other_4xx_are_permanent(through_proxy: tuple[FaultProxy, BlobStore]) -> None:
    proxy, store = through_proxy
    proxy.stage(Fault(400, "InvalidArgument"))
    with pytest.raises(StorageError) as e:
        store.get("blob")
    assert not isinstance(e.value, TransientStorageError | BlobNotFound)
    assert "HTTP 400 InvalidArgument" in str(e.value)
    with pytest.raises(BlobNotFound):
        store.get("no-such-blob")


def test_the_sdk_retries_a_passing_fault() -> None:
    proxy = FaultProxy(services.moto_endpoint())
    with proxy.running():
        creds = {"access_key_id": "t", "secret_access_key": "t", "endpoint_url": proxy.url}
        store = S3BlobStore(f"s3://{services.unique('retry')}/p", creds, retries=2)
        store.put("blob", b"content")
        proxy.stage(Fault(503, "SlowDown"))
        assert store.get("blob") == b"content"


@pytest.mark.parametrize("backend", ["s3-moto", "azure-azurite"])
def test_under_the_vault_retries_the_sdk_tries_once(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A vault's store bounds the attempts in one place, the retrying wrapper: the SDK inside it
    does not retry as well, or each of the wrapper's attempts would be several requests."""
    s3 = backend == "s3-moto"
    proxy = FaultProxy(services.moto_endpoint() if s3 else services.azure_credentials()["endpoint"])
    with proxy.running():
        if s3:
            location = f"s3://{services.unique('once')}/p"
            creds = {"access_key_id": "t", "secret_access_key": "t", "endpoint_url": proxy.url}
        else:
            location = f"azure://{services.unique('once')}/p"
            creds = {**services.azure_credentials(), "endpoint": proxy.url + "/devstoreaccount1"}
        store = open_vault_store(location, creds)
        assert isinstance(store, RetryingBlobStore)
        store.put("blob", b"content")
        store.attempts = 3
        monkeypatch.setattr(store, "_sleep", lambda s: None)
        busy = Fault(503, "SlowDown" if s3 else "ServerBusy")
        proxy.stage(*[busy] * 20)
        before = proxy.requests
        with pytest.raises(StorageError) as e:
            store.get("blob")
        assert "3 attempts" in str(e.value)
        assert proxy.requests - before == 3
        proxy.faults.clear()
        assert store.get("blob") == b"content"


def test_a_large_blob_goes_up_as_parallel_staged_blocks() -> None:
    container = services.unique("blocks")
    store = AzureBlobStore(f"azure://{container}/p", services.azure_credentials())
    data = os.urandom(9 << 20)  # a pack's size
    store.put("packs/ab/pack", data)
    svc = BlobServiceClient(
        services.azure_credentials()["endpoint"],
        credential={
            "account_name": services.azure_credentials()["account_name"],
            "account_key": services.azure_credentials()["account_key"],
        },
    )
    committed, _ = svc.get_blob_client(container, "p/packs/ab/pack").get_block_list("committed")
    assert len(committed) == 3
    assert store.get("packs/ab/pack") == data


def _child_put(store: BlobStore, out: Any) -> None:
    store.put("from-child", b"child")
    out.put(store.get("from-child"))


@pytest.mark.parametrize("backend", ["azure", "s3"])
def test_a_forked_worker_makes_its_own_client(backend: str) -> None:
    if backend == "azure":
        store: BlobStore = AzureBlobStore(
            services.location("azure", "fork"), services.azure_credentials()
        )
    else:
        store = S3BlobStore(services.location("s3", "fork"), services.s3_credentials())
    store.put("from-parent", b"parent")  # the parent's client now holds pooled connections
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    p = ctx.Process(target=_child_put, args=(store, out))
    p.start()
    assert out.get(timeout=60) == b"child"
    p.join(timeout=60)
    assert p.exitcode == 0
    assert store.get("from-parent") == b"parent" and store.get("from-child") == b"child"
