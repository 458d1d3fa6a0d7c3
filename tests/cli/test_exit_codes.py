"""The command line contract: exit codes and messages a user and a script rely on."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import Cli, snapshot


def test_wrong_passphrase_exits_12_and_writes_nothing(registered: Cli, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a").write_text("a")
    registered.run("backup", str(src))
    before_vault = snapshot(tmp_path / "vault")
    before_home = snapshot(registered.home)
    wrong = registered.environ(CAIRN_PASSPHRASE="this is not the passphrase")
    for args in (
        ["backup", str(src)],
        ["recovery-points"],
        ["check"],
        ["restore", "latest", "--target", str(tmp_path / "r")],
    ):
        proc = registered.run(*args, expect=12, env=wrong)
        assert "wrong passphrase" in proc.stderr
    again = registered.run(
        "register", str(tmp_path / "vault"), "--machine", "clibox", expect=12, env=wrong
    )
    assert "wrong passphrase" in again.stderr
    assert snapshot(tmp_path / "vault") == before_vault
    assert snapshot(registered.home) == before_home
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").rglob("a"))


def test_not_registered_exits_10(cli: Cli, tmp_path: Path) -> None:
    proc = cli.run("recovery-points", expect=10)
    assert "not registered" in proc.stderr
    proc = cli.run("register", str(tmp_path / "no-vault-here"), expect=10)
    assert "no vault" in proc.stderr


def test_short_passphrase_is_refused_with_exit_2(cli: Cli, tmp_path: Path) -> None:
    cli.run("vault", "create", str(tmp_path / "vault"))
    proc = cli.run(
        "register", str(tmp_path / "vault"), expect=2, env=cli.environ(CAIRN_PASSPHRASE="short")
    )
    assert "at least 16" in proc.stderr


def test_bad_exclusion_and_bad_date_exit_2(registered: Cli, tmp_path: Path) -> None:
    registered.run("backup", str(tmp_path), "--retain-until", "next tuesday", expect=2)
    proc = registered.run("backup", str(tmp_path), "--exclude", "[unclosed", expect=2)
    assert "[unclosed" in proc.stderr


def test_locked_store_exits_11_naming_the_holder(registered: Cli, tmp_path: Path) -> None:
    from cairn.core.clock import SystemClock
    from cairn.engine.home import Home
    from cairn.engine.session import open_repository

    repo = open_repository(Home(registered.home), SystemClock())
    lock = repo.locks.acquire(exclusive=True, purpose="prune")
    try:
        proc = registered.run("backup", str(tmp_path / "vault"), expect=11)
        assert "locked by prune" in proc.stderr
        assert f"pid {os.getpid()}" in proc.stderr
    finally:
        lock.release()


def test_json_outputs_are_machine_readable(registered: Cli, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("hello")
    out = json.loads(registered.run("backup", str(src), "--json").stdout)
    assert out["status"] == "completed" and out["stats"]["files"] == 1
    points = json.loads(registered.run("recovery-points", "--json").stdout)
    assert [p["id"] for p in points] == [out["recovery_point"]]
    checked = json.loads(registered.run("check", "--read-data", "--json").stdout)
    assert checked["ok"] is True and checked["packs_read"] >= 2
    listing = registered.run("ls", points[0]["id"][:6], str(src)).stdout
    assert f"{src}/a.txt" in listing


def test_damage_exits_14_for_check_and_restore(registered: Cli, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "data.bin").write_bytes(os.urandom(300_000))
    registered.run("backup", str(src))
    packs = sorted(
        (tmp_path / "vault").glob("machines/*/packs/*/*"), key=lambda p: p.stat().st_size
    )
    blob = bytearray(packs[-1].read_bytes())
    blob[50] ^= 1
    packs[-1].write_bytes(bytes(blob))
    proc = registered.run("check", "--read-data", expect=14)
    assert "damaged" in proc.stderr
    proc = registered.run("restore", "latest", "--target", str(tmp_path / "r"), expect=14)
    assert "data.bin" in proc.stderr


@pytest.fixture
def world_dir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="cairn-nobody-"))
    os.chmod(d, 0o777)
    yield d
    shutil.rmtree(d)


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv"
)
def test_unreadable_file_is_a_warning_with_exit_3(world_dir: Path) -> None:
    cli = Cli(world_dir / "home")
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    src = world_dir / "src"
    src.mkdir()
    (src / "readable.txt").write_text("ok")
    (src / "secret.txt").write_text("root only")
    os.chmod(src / "secret.txt", 0o600)
    os.chmod(src, 0o755)
    os.chmod(src / "readable.txt", 0o644)
    cli.run("vault", "create", str(world_dir / "vault"), prefix=nobody)
    cli.run("register", str(world_dir / "vault"), prefix=nobody)
    proc = cli.run("backup", str(src), "--json", expect=3, prefix=nobody)
    out = json.loads(proc.stdout)
    assert out["status"] == "completed-with-warnings"
    assert [w["path"] for w in out["warnings"]] == [str(src / "secret.txt")]
    assert "Permission denied" in out["warnings"][0]["message"]
    listing = cli.run("ls", "latest", str(src), prefix=nobody).stdout
    assert "readable.txt" in listing and "secret.txt" not in listing


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_full_vault_exits_13_and_stays_consistent(tmp_path: Path) -> None:
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], check=True)
    try:
        cli = Cli(tmp_path / "home")
        cli.run("vault", "create", str(mnt / "vault"))
        cli.run("register", str(mnt / "vault"))
        src = tmp_path / "src"
        src.mkdir()
        (src / "small.txt").write_text("fits")
        cli.run("backup", str(src))
        (src / "big.bin").write_bytes(os.urandom(8 << 20))
        proc = cli.run("backup", str(src), expect=13)
        assert "is full" in proc.stderr and str(mnt / "vault") in proc.stderr
        cli.run("check", "--read-data")
        (src / "big.bin").unlink()
        cli.run("backup", str(src))
        cli.run("check", "--read-data")
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_full_restore_target_exits_13_naming_it(registered: Cli, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "big.bin").write_bytes(os.urandom(6 << 20))
    registered.run("backup", str(src))
    mnt = tmp_path / "small-target"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], check=True)
    try:
        proc = registered.run("restore", "latest", "--target", str(mnt), expect=13)
        assert "restore target" in proc.stderr and str(mnt) in proc.stderr
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
    registered.run("check", "--read-data")
