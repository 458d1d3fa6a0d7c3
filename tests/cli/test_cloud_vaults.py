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
