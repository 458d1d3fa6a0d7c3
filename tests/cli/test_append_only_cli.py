"""An append-only local vault (`cairn vault create --append-only`): backups go in, nothing that
holds them is deleted or replaced through Cairn, prune is refused with a clear message."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cairn.core.clock import FixedClock
from cairn.core.errors import AppendOnly
from cairn.engine.home import Home
from cairn.engine.session import open_repository
from tests.cli.conftest import Cli, snapshot


@pytest.fixture
def append_only(cli: Cli, tmp_path: Path) -> Cli:
    out = cli.run("vault", "create", str(tmp_path / "vault"), "--append-only").stdout
    assert "append-only" in out
    assert json.loads((tmp_path / "vault" / "vault.json").read_text())["append_only"] is True
    cli.run("register", str(tmp_path / "vault"), "--machine", "aobox")
    return cli


def test_backups_go_in_prune_is_refused_and_nothing_is_deleted(
    append_only: Cli, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(2):
        (src / "f.txt").write_text(f"version {i}")
        append_only.run("backup", str(src))
    vault = tmp_path / "vault"
    before = {k for k in snapshot(vault) if "/locks/" not in k}
    for args in (["prune"], ["prune", "--dry-run"]):
        proc = append_only.run(*args, expect=2)
        assert "append-only: prune is refused" in proc.stderr
    assert {k for k in snapshot(vault) if "/locks/" not in k} >= before
    points = json.loads(append_only.run("recovery-points", "--json").stdout)
    assert len(points) == 2
    append_only.run("restore", "latest", "--target", str(tmp_path / "r"))

    repo = open_repository(Home(append_only.home), FixedClock(datetime.now(UTC)))
    point = repo.layout.point(points[0]["id"])
    with pytest.raises(AppendOnly, match="deleting machines/aobox/points/"):
        repo.store.delete(point)
    with pytest.raises(AppendOnly, match="replacing"):
        repo.store.put(point, b"other bytes")
    pack = next(iter(repo.store.list(repo.layout.prefix("packs"))))
    with pytest.raises(AppendOnly):
        repo.store.delete(pack.name)
    repo.store.put(point, repo.store.get(point))  # the same bytes again: harmless
    append_only.run("check", "--read-data")


def test_soft_delete_and_undelete_still_work(append_only: Cli, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "f.txt").write_text("data")
    append_only.run("backup", str(src))
    pin = append_only.run("security", "pin").stdout.strip()
    append_only.run("protection", "stop", "--delete-data", "--pin", pin)
    assert json.loads(append_only.run("recovery-points", "--json").stdout) == []
    append_only.run("protection", "undelete")
    assert len(json.loads(append_only.run("recovery-points", "--json").stdout)) == 1
    append_only.run("check")
