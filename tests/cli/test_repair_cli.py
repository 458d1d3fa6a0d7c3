"""`cairn repair`: exit 0 on a sound vault, 14 naming the points that lost data."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.cli.conftest import Cli


def test_repair_exits_0_then_14_and_the_listing_shows_the_damaged_point(
    registered: Cli, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.bin").write_bytes(os.urandom(1 << 20))
    registered.run("backup", str(src))
    sound = registered.run("repair")
    assert "no recovery point lost data" in sound.stdout
    first = json.loads(registered.run("recovery-points", "--json").stdout)[0]["id"]
    for pack in (tmp_path / "vault").glob("machines/*/packs/*/*"):
        pack.unlink()
    proc = registered.run("repair", expect=14)
    assert first[:8] in proc.stderr and "damaged" in proc.stderr
    listed = json.loads(registered.run("recovery-points", "--json").stdout)
    assert [p["status"] for p in listed] == ["damaged"]
    registered.run("backup", str(src))  # uploads everything again
    registered.run("check", "--read-data")
    healed = registered.run("repair")
    assert "whole again" in healed.stdout
