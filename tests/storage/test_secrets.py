"""Backend secrets: from the environment by each SDK's names, and never in a location."""

from __future__ import annotations

import pytest

from cairn.core.errors import UsageError
from cairn.storage.secrets import (
    check_credentials,
    check_location,
    from_environment,
    with_environment,
)

SECRET = "s3cr3t-never-printed-0xdeadbeef"


def test_azure_credentials_from_the_environment() -> None:
    env = {
        "AZURE_STORAGE_ACCOUNT": "acct",
        "AZURE_STORAGE_KEY": SECRET,
        "AZURE_STORAGE_SAS_TOKEN": "sv=other",
        "AWS_SECRET_ACCESS_KEY": "not for azure",
    }
    assert from_environment("azure://c/p", env) == {"account_name": "acct", "account_key": SECRET}
    env["AZURE_STORAGE_CONNECTION_STRING"] = "DefaultEndpointsProtocol=http;AccountKey=k"
    assert from_environment("azure://c/p", env) == {
        "connection_string": "DefaultEndpointsProtocol=http;AccountKey=k"
    }
    sas = {"AZURE_STORAGE_ACCOUNT": "acct", "AZURE_STORAGE_SAS_TOKEN": "sv=1&sig=x"}
    assert from_environment("azure://c", sas) == {"account_name": "acct", "sas_token": "sv=1&sig=x"}


def test_s3_credentials_from_the_environment() -> None:
    env = {
        "AWS_ACCESS_KEY_ID": "AKIA",
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
        "AZURE_STORAGE_KEY": "not for s3",
    }
    assert from_environment("s3://bucket/prefix", env) == {
        "access_key_id": "AKIA",
        "secret_access_key": SECRET,
        "region": "eu-west-1",
        "endpoint_url": "http://127.0.0.1:9000",
    }
    assert from_environment("s3://bucket", {"AWS_ACCESS_KEY_ID": ""}) == {}


def test_a_local_vault_takes_nothing_from_the_environment() -> None:
    env = {"AWS_SECRET_ACCESS_KEY": SECRET, "AZURE_STORAGE_KEY": SECRET}
    assert from_environment("/srv/vault", env) == {}
    assert from_environment("memory://x", env) == {}


@pytest.mark.parametrize(
    "location",
    [
        f"azure://container/prefix?sv=2024&sig={SECRET}",
        f"s3://AKIA:{SECRET}@bucket/prefix",
        f"s3://bucket/prefix#{SECRET}",
    ],
)
def test_a_location_carrying_a_secret_is_refused_without_repeating_it(location: str) -> None:
    with pytest.raises(UsageError) as err:
        check_location(location)
    assert SECRET not in str(err.value)


def test_ordinary_locations_pass() -> None:
    for loc in ["/srv/vault?x#y", "file:///srv/vault", "azure://c/p", "s3://b/p/q"]:
        check_location(loc)


def test_a_misspelt_key_is_refused_and_named_without_its_value() -> None:
    check_credentials("azure://c", {"account_name": "a", "account_key": SECRET})
    with pytest.raises(UsageError, match="'acount_key'") as err:
        check_credentials("azure://c", {"account_name": "a", "acount_key": SECRET})
    assert SECRET not in str(err.value)
    with pytest.raises(UsageError, match="'account_key'"):
        check_credentials("s3://b", {"account_key": SECRET})
    check_credentials("/srv/vault", {"anything": "ignored"})


def test_the_environment_wins_over_kept_credentials_key_by_key() -> None:
    kept = {"access_key_id": "kept-id", "secret_access_key": "kept", "endpoint_url": "http://k"}
    env = {"AWS_SECRET_ACCESS_KEY": "rotated", "AWS_REGION": "eu-west-1"}

    merged, names = with_environment("s3://b/p", kept, env)

    assert merged == {
        "access_key_id": "kept-id",
        "secret_access_key": "rotated",
        "endpoint_url": "http://k",
        "region": "eu-west-1",
    }
    assert names == ["AWS_SECRET_ACCESS_KEY", "AWS_REGION"]
    assert with_environment("s3://b/p", kept, {}) == (kept, [])


def test_an_azure_signing_secret_from_the_environment_replaces_the_kept_one() -> None:
    kept = {"connection_string": "AccountName=a;AccountKey=k", "endpoint": "http://e"}

    by_key, _ = with_environment(
        "azure://c/p", kept, {"AZURE_STORAGE_ACCOUNT": "b", "AZURE_STORAGE_KEY": "k2"}
    )
    by_string, names = with_environment(
        "azure://c/p", {"account_name": "a", "account_key": "k"},
        {"AZURE_STORAGE_CONNECTION_STRING": "AccountName=b;AccountKey=k3"},
    )  # fmt: skip

    assert by_key == {"account_name": "b", "account_key": "k2", "endpoint": "http://e"}
    assert by_string == {"connection_string": "AccountName=b;AccountKey=k3"}
    assert names == ["AZURE_STORAGE_CONNECTION_STRING"]
