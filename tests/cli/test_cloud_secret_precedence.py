"""A cloud secret set in the environment wins over the copy kept in CAIRN_HOME (as every SDK lets
the environment win over its files), and a wrong one fails at once with a message naming the
credential and where it came from, never its value. Before, the kept copy silently won: a rotated
key in the environment was ignored, and a wrong one in the environment went unnoticed."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.cli.test_cloud_vaults import cloud_env

WRONG = "wrong-secret-value-never-shown-5150"


def secret_vars(backend: str) -> tuple[str, ...]:
    if backend == "azure":
        return ("AZURE_STORAGE_CONNECTION_STRING",)
    return ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def registered_on(backend: str, tmp_path: Path) -> tuple[Cli, dict[str, str]]:
    location, env = cloud_env(backend)
    cli = Cli(tmp_path / "home", env=dict(env))
    cli.run("vault", "create", location)
    cli.run("register", location, "--machine", "box")
    return cli, env


def wrong(backend: str, env: dict[str, str]) -> dict[str, str]:
    if backend == "azure":
        conn = env["AZURE_STORAGE_CONNECTION_STRING"]
        parts = dict(p.split("=", 1) for p in conn.split(";") if "=" in p)
        parts["AccountKey"] = "d3Jvbmc" + WRONG.replace("-", "") + "=="
        return {"AZURE_STORAGE_CONNECTION_STRING": ";".join(f"{k}={v}" for k, v in parts.items())}
    return {"AWS_SECRET_ACCESS_KEY": WRONG}


@pytest.mark.parametrize("backend", ["azure", "s3"])
def test_a_wrong_secret_in_the_environment_wins_and_fails_fast_naming_it(
    tmp_path: Path, backend: str
) -> None:
    cli, env = registered_on(backend, tmp_path)
    bad = cli.environ(**wrong(backend, env))

    start = time.monotonic()
    proc = cli.run("recovery-points", "--json", env=bad, expect=1)
    elapsed = time.monotonic() - start

    assert elapsed < 20, "an authentication failure is not worth retrying"
    assert "access denied" in proc.stderr
    assert "from the environment" in proc.stderr
    assert any(name in proc.stderr for name in secret_vars(backend))
    assert "kept in CAIRN_HOME" in proc.stderr
    assert WRONG not in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("backend", ["azure", "s3"])
def test_without_the_environment_the_kept_copy_is_used(tmp_path: Path, backend: str) -> None:
    cli, _ = registered_on(backend, tmp_path)
    bare = {k: v for k, v in cli.environ().items() if not k.startswith(("AWS_", "AZURE_"))}

    assert json.loads(cli.run("recovery-points", "--json", env=bare).stdout) == []


def test_a_wrong_kept_copy_is_named_when_the_environment_is_empty(tmp_path: Path) -> None:
    cli, _ = registered_on("s3", tmp_path)
    [kept] = (cli.home / "credentials").glob("*.json")
    doc = json.loads(kept.read_text())
    doc["credentials"]["secret_access_key"] = WRONG
    kept.write_text(json.dumps(doc))
    bare = {k: v for k, v in cli.environ().items() if not k.startswith(("AWS_", "AZURE_"))}

    proc = cli.run("recovery-points", env=bare, expect=1)

    assert "access denied" in proc.stderr and "kept in CAIRN_HOME" in proc.stderr
    assert str(kept) in proc.stderr
    assert WRONG not in proc.stdout + proc.stderr
    # The right secret in the environment wins over the damaged copy.
    assert json.loads(cli.run("recovery-points", "--json").stdout) == []
