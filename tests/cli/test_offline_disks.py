"""Disk preparation onto real, small file systems (tmpfs mounts standing for USB disks): the
split follows each disk's actual free space, with no --disk-size."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Cli
from tests.cli.test_offline_cli import MiB, disk_args, stage
from tests.tmpfs import tmpfs


def test_prep_splits_by_each_disks_free_space(registered: Cli, tmp_path: Path) -> None:
    _, staging = stage(registered, tmp_path)
    registered.run("backup")
    with tmpfs(tmp_path / "usb1", "12m") as d1, tmpfs(tmp_path / "usb2", "12m") as d2:
        out = json.loads(
            registered.run(
                "offline", "prep", "--staging", str(staging), *disk_args([d1, d2]), "--json"
            ).stdout
        )
        assert [d["files"] > 0 for d in out["disks"]] == [True, True]
        assert out["disks"][0]["bytes"] > 8 * MiB  # the first disk is filled first
        imported = json.loads(
            registered.run("offline", "import", *disk_args([d2, d1]), "--json").stdout
        )
        assert imported["check_errors"] == []
    registered.run("check", "--read-data")


def test_disks_too_small_by_their_free_space_are_refused(registered: Cli, tmp_path: Path) -> None:
    _, staging = stage(registered, tmp_path)
    registered.run("backup")
    with tmpfs(tmp_path / "usb1", "8m") as d1, tmpfs(tmp_path / "usb2", "4m") as d2:
        proc = registered.run(
            "offline", "prep", "--staging", str(staging), *disk_args([d1, d2]), expect=13
        )
        assert "too small" in proc.stderr and "is missing" in proc.stderr
        assert list(d1.iterdir()) == [] and list(d2.iterdir()) == []
