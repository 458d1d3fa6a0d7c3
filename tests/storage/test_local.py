from __future__ import annotations

import os
import stat
from pathlib import Path

from cairn.storage.local import TEMP_PREFIX, LocalBlobStore


def test_blobs_are_private_files_and_temp_files_are_not_listed(tmp_path: Path) -> None:
    store = LocalBlobStore(str(tmp_path))
    store.put("keys/k1", b"secret")
    assert stat.S_IMODE(os.stat(tmp_path / "keys" / "k1").st_mode) == 0o600
    (tmp_path / "keys" / (TEMP_PREFIX + "dead")).write_bytes(b"half")
    assert [b.name for b in store.list("keys/")] == ["keys/k1"]
    assert not [p for p in (tmp_path / "keys").iterdir() if p.name.startswith(TEMP_PREFIX + "0")]
