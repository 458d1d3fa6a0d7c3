"""The machine's only key file damaged: check says so (exit 14, naming it) while CAIRN_HOME still
has the key; once CAIRN_HOME is lost, the right passphrase is told "damaged", not "wrong"."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.cli.conftest import Cli


def key_file(vault: Path) -> Path:
    (path,) = (vault / "machines" / "clibox" / "keys").iterdir()
    return path


def test_a_flipped_byte_in_the_only_key_file_is_found_and_named(
    registered: Cli, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("alpha")
    registered.run("backup", str(src))
    registered.run("check", "--read-data")
    path = key_file(tmp_path / "vault")
    data = path.read_bytes()
    at = data.index(b'"sealed": "') + 20
    path.write_bytes(data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :])

    proc = registered.run("check", "--read-data", expect=14)
    assert f"key file machines/clibox/keys/{path.name} is damaged" in proc.stdout + proc.stderr

    shutil.rmtree(registered.home)
    proc = registered.run("register", str(tmp_path / "vault"), "--machine", "clibox", expect=14)
    assert "damaged" in proc.stderr and "wrong passphrase" not in proc.stderr
    assert path.name in proc.stderr
