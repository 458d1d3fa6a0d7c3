"""Prune on cloud vaults really deletes: expired points, then packs no point needs."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cairn.core.clock import SystemClock
from cairn.engine.backup import BackupOptions, backup
from cairn.engine.check import check
from cairn.engine.home import Home
from cairn.engine.prune import prune
from cairn.engine.session import create_vault, open_repository, register
from tests.conftest import PASSPHRASE
from tests.storage import services


@pytest.mark.parametrize("backend", ["azure", "s3"])
def test_prune_deletes_an_expired_point_and_its_packs(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend == "azure":
        monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", services.azure_connection_string())
    else:
        c = services.s3_credentials()
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", c["access_key_id"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", c["secret_access_key"])
        monkeypatch.setenv("AWS_ENDPOINT_URL", c["endpoint_url"])
    location = services.location(backend, "prune", "v")
    home = Home(tmp_path / "home")
    create_vault(location, SystemClock())
    register(home, location, SystemClock(), machine="pruner", passphrase=PASSPHRASE)
    repo = open_repository(home, SystemClock())
    src = tmp_path / "src"
    src.mkdir()
    (src / "big").write_bytes(os.urandom(9 << 20))
    old = backup(repo, BackupOptions([str(src)])).point
    (src / "big").write_bytes(b"small now")
    backup(repo, BackupOptions([str(src)]))
    packs_before = len(list(repo.store.list("machines/pruner/packs/")))
    now = datetime.now(UTC) + timedelta(days=2)
    first = prune(repo, {old.id}, now=now, grace=timedelta(0))
    assert first.points_deleted == [old.id] and first.packs_waiting >= 1
    second = prune(repo, set(), now=now + timedelta(minutes=1), grace=timedelta(0))
    assert second.packs_deleted >= 1 and second.bytes_reclaimed >= 9 << 20
    assert len(list(repo.store.list("machines/pruner/packs/"))) < packs_before
    assert check(open_repository(home, SystemClock()), read_data=True).errors == []
