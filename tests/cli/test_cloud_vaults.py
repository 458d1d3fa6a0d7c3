"""The whole command line on cloud vaults: Azurite (Azure Blob) and SeaweedFS (S3).

Credentials come from the environment under the SDKs' standard names, as a user's would."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.conftest import tree_digest
from tests.storage import services


def cloud_env(backend: str) -> tuple[str, dict[str, str]]:
    if backend == "azure":
        location = services.location("azure", "e2e", "vaults/team")
        return location, {"AZURE_STORAGE_CONNECTION_STRING": services.azure_connection_string()}
    c = services.s3_credentials()
    location = services.location("s3", "e2e", "vaults/team")
    return location, {
        "AWS_ACCESS_KEY_ID": c["access_key_id"],
        "AWS_SECRET_ACCESS_KEY": c["secret_access_key"],
        "AWS_DEFAULT_REGION": c["region"],
        "AWS_ENDPOINT_URL": c["endpoint_url"],
    }


def make_tree(src: Path) -> None:
    (src / "docs" / "deep").mkdir(parents=True)
    (src / "docs" / "a.txt").write_text("alpha\n" * 5000)
    (src / "docs" / "deep" / "b.bin").write_bytes(os.urandom(12 << 20))  # more than one pack
    (src / "empty").write_bytes(b"")
    os.symlink("docs/a.txt", src / "link")
    for i in range(50):
        (src / "docs" / f"small-{i}.txt").write_text(f"file {i}\n" * (i + 1))


@pytest.mark.parametrize("backend", ["azure", "s3"])
def test_create_register_backup_restore_check_prune(cli: Cli, tmp_path: Path, backend: str) -> None:
    location, env = cloud_env(backend)
    cli.env.update(env)
    out = cli.run("vault", "create", location + "/").stdout
    assert f"at {location}" in out
    cli.run("vault", "create", location, expect=1)  # already a vault there
    cli.run("register", location, "--machine", "cloudbox")
    src = tmp_path / "src"
    make_tree(src)
    first = json.loads(cli.run("backup", str(src), "--json").stdout)
    assert first["stats"]["files"] == 53 and first["warnings"] == []

    (src / "docs" / "deep" / "b.bin").unlink()
    (src / "docs" / "new.txt").write_text("new")
    cli.run("backup", str(src))
    points = json.loads(cli.run("recovery-points", "--json").stdout)
    assert len(points) == 2

    target = tmp_path / "restored"
    cli.run("restore", "latest", "--target", str(target))
    assert tree_digest(target / str(src).lstrip("/")) == tree_digest(src)

    cli.run("check", "--read-data")
    pruned = json.loads(cli.run("prune", "--json").stdout)
    assert pruned["points_kept"] == 2
    checked = json.loads(cli.run("check", "--read-data", "--json").stdout)
    assert checked["ok"] is True


@pytest.mark.parametrize("backend", ["azure", "s3"])
def test_no_credentials_is_a_usage_error(cli: Cli, backend: str) -> None:
    location, _ = cloud_env(backend)
    env = {k: v for k, v in cli.environ().items() if not k.startswith(("AWS_", "AZURE_"))}
    proc = cli.run("vault", "create", location, expect=2, env=env)
    assert ("AWS_ACCESS_KEY_ID" if backend == "s3" else "AZURE_STORAGE_CONNECTION_STRING") in (
        proc.stderr
    )


def test_a_wrong_secret_fails_clearly_and_never_prints_it(cli: Cli) -> None:
    location, env = cloud_env("s3")
    env["AWS_SECRET_ACCESS_KEY"] = "definitely-wrong-secret-1234"
    proc = cli.run("vault", "create", location, expect=1, env=cli.environ(**env))
    assert "access denied" in proc.stderr and location in proc.stderr
    assert "definitely-wrong-secret-1234" not in proc.stderr + proc.stdout


@pytest.mark.parametrize("backend", ["azure", "s3"])
def test_a_second_machine_with_only_the_credentials_file(tmp_path: Path, backend: str) -> None:
    """Machine A creates the vault from its environment and saves a vault credentials file; machine
    B, with no cloud environment at all, registers with that file and restores A's recovery point
    with A's passphrase. No secret appears in anything either prints."""
    location, env = cloud_env(backend)
    a = Cli(tmp_path / "home-a", env=dict(env))
    creds = tmp_path / "vault.creds.json"
    a.run("vault", "create", location, "--save-credentials", str(creds))
    assert oct(creds.stat().st_mode & 0o777) == "0o600"
    a.run("register", location, "--machine", "alpha")
    src = tmp_path / "src"
    make_tree(src)
    a.run("backup", str(src))

    bare = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AZURE_", "CAIRN_"))}
    b = Cli(tmp_path / "home-b")
    b_env = {**bare, "CAIRN_HOME": str(b.home), "CAIRN_PASSPHRASE": "the passphrase of bravo!!"}
    outputs = [
        b.run("register", "--vault-credentials", str(creds), "--machine", "bravo", env=b_env)
    ]
    a_pass = {**b_env, "CAIRN_PASSPHRASE": a.environ()["CAIRN_PASSPHRASE"]}
    target = tmp_path / "restored-on-b"
    outputs.append(
        b.run("restore", "latest", "--machine", "alpha", "--target", str(target), env=a_pass)
    )
    assert tree_digest(target / str(src).lstrip("/")) == tree_digest(src)
    outputs.append(b.run("recovery-points", "--machine", "alpha", "--json", env=a_pass))
    # B's own store works unattended with the credentials it kept.
    b.run("backup", str(src / "docs" / "a.txt"), env={**b_env, "CAIRN_PASSPHRASE": ""})
    secrets_ = [v for k, v in env.items() if "KEY" in k or "SECRET" in k or "CONNECTION" in k]
    for out in outputs:
        for secret in secrets_:
            assert secret not in out.stdout and secret not in out.stderr
    b.run("check", "--read-data", env=b_env)
