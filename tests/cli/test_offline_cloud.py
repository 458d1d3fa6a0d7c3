"""Offline seeding into cloud vaults: Azurite (Azure Blob) and SeaweedFS (S3). The import runs on
another machine that has only the vault credentials file and the machine's passphrase, as a
datacenter would."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.cli.test_cloud_vaults import cloud_env
from tests.cli.test_offline_cli import MiB, disk_args, disks, stage


@pytest.mark.parametrize("backend", ["azure", "s3"])
def test_offline_seeding_into_a_cloud_vault(tmp_path: Path, backend: str) -> None:
    location, env = cloud_env(backend)
    a = Cli(tmp_path / "home-a", env=dict(env))
    creds = tmp_path / "vault.creds.json"
    a.run("vault", "create", location, "--save-credentials", str(creds))
    a.run("register", location, "--machine", "seeded")
    src, staging = stage(a, tmp_path)
    a.run("backup")
    assert json.loads(a.run("recovery-points", "--json").stdout) == []
    ds = disks(tmp_path, 2)
    a.run(
        "offline", "prep", "--staging", str(staging), *disk_args(ds), "--disk-size", str(12 * MiB)
    )

    # The datacenter: no registration, no cloud environment, the credentials file and the
    # machine's passphrase.
    bare = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AZURE_", "CAIRN_"))}
    dc = Cli(tmp_path / "home-dc")
    dc_env = {
        **bare,
        "CAIRN_HOME": str(dc.home),
        "CAIRN_PASSPHRASE": a.environ()["CAIRN_PASSPHRASE"],
    }
    args = ["offline", "import", *disk_args(ds), "--vault-credentials", str(creds), "--json"]
    first = json.loads(dc.run(*args, env=dc_env).stdout)
    assert first["uploaded_files"] > 0 and first["check_errors"] == []
    again = json.loads(dc.run(*args, env=dc_env).stdout)
    assert again["uploaded_files"] == 0 and again["already_imported"] is True
    no_pass = {**dc_env, "CAIRN_PASSPHRASE": ""}
    assert "passphrase" in dc.run(*args, env=no_pass, expect=2).stderr

    # Back on the machine: imported, and the next backup sends only what changed.
    assert json.loads(a.run("offline", "status", "--json").stdout)["state"] == "imported"
    (src / "changed.txt").write_text("new since the staged backup\n")
    stats = json.loads(a.run("backup", "--json").stdout)["stats"]
    print(f"{backend}: bytes uploaded by the backup after the import:", stats["bytes_stored"])
    assert stats["files_unchanged"] == 7 and stats["bytes_stored"] < 64 * 1024
    assert len(json.loads(a.run("recovery-points", "--json").stdout)) == 2
    a.run("check", "--read-data")
