"""Backend secrets: the keys each backend takes, reading them from the environment, and keeping
them out of vault locations.

Secrets come from a vault credentials file or the environment, never from the location, and never
appear in a message: functions here name keys and environment variables, never values.

    azure: connection_string | account_name + account_key | account_name + sas_token; endpoint
    s3:    access_key_id + secret_access_key; region, endpoint_url

The environment uses each SDK's standard names (DESIGN.md, Storage).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlparse

from cairn.core.errors import UsageError

KEYS: dict[str, frozenset[str]] = {
    "azure": frozenset(
        {"connection_string", "account_name", "account_key", "sas_token", "endpoint"}
    ),
    "s3": frozenset({"access_key_id", "secret_access_key", "region", "endpoint_url"}),
}

# (credential key, the environment variables that may hold it, the first set one wins), per scheme.
ENVIRONMENT: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "azure": (
        ("connection_string", ("AZURE_STORAGE_CONNECTION_STRING",)),
        ("account_name", ("AZURE_STORAGE_ACCOUNT",)),
        ("account_key", ("AZURE_STORAGE_KEY",)),
        ("sas_token", ("AZURE_STORAGE_SAS_TOKEN",)),
    ),
    "s3": (
        ("access_key_id", ("AWS_ACCESS_KEY_ID",)),
        ("secret_access_key", ("AWS_SECRET_ACCESS_KEY",)),
        ("region", ("AWS_DEFAULT_REGION", "AWS_REGION")),
        ("endpoint_url", ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")),
    ),
}


def scheme_of(location: str) -> str:
    """ "azure", "s3", "memory", or "" for a local folder."""
    return urlparse(location).scheme if "://" in location else ""


def check_location(location: str) -> None:
    """Refuse a location URL that carries a secret (user:password@, ?sig=..., #...).

    The message does not repeat the location: it may be the secret."""
    if "://" not in location:
        return  # a folder path: `?` and `#` are ordinary characters in file names
    parsed = urlparse(location)
    if "@" in parsed.netloc or parsed.query or parsed.fragment or parsed.params:
        raise UsageError(
            "a vault location must not carry secrets (no user:password@, no ?query such as a SAS"
            " token): give them in a vault credentials file or the environment"
        )


def check_credentials(location: str, credentials: Mapping[str, str]) -> None:
    """Refuse keys the location's backend does not take (a misspelt key would be ignored)."""
    known = KEYS.get(scheme_of(location))
    if known is None:
        return  # a local or memory vault takes no secrets: whatever is given is ignored
    unknown = sorted(set(credentials) - known)
    if unknown:
        raise UsageError(
            f"the vault credentials name {', '.join(map(repr, unknown))}, which a"
            f" {scheme_of(location)}:// vault does not take (it takes {', '.join(sorted(known))})"
        )


def from_environment(location: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The location's backend credentials found in the environment ({} for a local vault)."""
    found: dict[str, str] = {}
    for key, names in ENVIRONMENT.get(scheme_of(location), ()):
        value = next((environ[var] for var in names if environ.get(var)), None)
        if value:
            found[key] = value
    if "connection_string" in found:
        # A connection string says everything; the others would only compete with it.
        return {"connection_string": found["connection_string"]}
    if "account_key" in found:
        found.pop("sas_token", None)
    return found


def with_environment(
    location: str, kept: Mapping[str, str], environ: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """The kept credentials with what the environment sets winning over them, as every SDK lets
    its environment variables win over its files; and the names of the variables that won.

    Per key, a set variable replaces the kept value. A connection string from the environment
    replaces every kept key (it says everything); an account key or SAS token from the
    environment replaces the kept connection string, key and token (one way to sign at a time)."""
    found = from_environment(location, environ)
    if not found:
        return dict(kept), []
    names = [
        next(var for var in variables if environ.get(var))
        for key, variables in ENVIRONMENT.get(scheme_of(location), ())
        if key in found
    ]
    if "connection_string" in found:
        return dict(found), names
    merged = dict(kept)
    if "account_key" in found or "sas_token" in found:
        for key in ("connection_string", "account_key", "sas_token"):
            merged.pop(key, None)
    merged.update(found)
    return merged, names


def environment_names(location: str) -> list[str]:
    """The environment variables that hold the location's backend credentials."""
    return [var for _, names in ENVIRONMENT.get(scheme_of(location), ()) for var in names]
