"""`cairn passphrase change`: the new key file is written and verified before the old one goes;
killed after any write, the machine opens with the old or the new passphrase, never neither."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cairn.core.clock import SystemClock
from cairn.core.errors import CairnError
from cairn.engine.crashpoint import ENV
from cairn.storage.local import LocalBlobStore
from cairn.vault.vault import Vault
from tests.cli.conftest import PASSPHRASE, Cli

NEW = "a brand new passphrase, long enough"


def opens(vault: Path, passphrase: str) -> bool:
    """Whether the vault alone (CAIRN_HOME lost) opens with this passphrase."""
    try:
        Vault(LocalBlobStore(str(vault)), SystemClock()).unlock("clibox", passphrase)
    except CairnError:
        return False
    return True


def key_ids(vault: Path) -> set[str]:
    return {p.name for p in (vault / "machines" / "clibox" / "keys").iterdir()}


def test_change_replaces_the_key_file_and_the_kept_key_follows(
    registered: Cli, tmp_path: Path
) -> None:
    vault = tmp_path / "vault"
    old_ids = key_ids(vault)
    proc = registered.run("passphrase", "change", env=registered.environ(CAIRN_NEW_PASSPHRASE=NEW))
    assert "1 old key file(s) removed" in proc.stdout
    assert key_ids(vault).isdisjoint(old_ids) and len(key_ids(vault)) == 1
    assert opens(vault, NEW) and not opens(vault, PASSPHRASE)
    registered.run("recovery-points", env=registered.environ(CAIRN_PASSPHRASE=NEW))
    proc = registered.run("recovery-points", expect=12)  # the old one is refused now
    assert "wrong passphrase" in proc.stderr
    registered.run("check", "--read-data", env=registered.environ(CAIRN_PASSPHRASE=NEW))


def test_a_wrong_current_or_a_short_new_passphrase_changes_nothing(
    registered: Cli, tmp_path: Path
) -> None:
    vault = tmp_path / "vault"
    before = key_ids(vault)
    env = registered.environ(CAIRN_PASSPHRASE="not the passphrase at all", CAIRN_NEW_PASSPHRASE=NEW)
    registered.run("passphrase", "change", env=env, expect=12)
    short = tmp_path / "short"
    short.write_text("too short\n")
    proc = registered.run("passphrase", "change", "--new-passphrase-file", str(short), expect=2)
    assert "16" in proc.stderr
    assert key_ids(vault) == before and opens(vault, PASSPHRASE)


def test_a_damaged_key_file_is_rewritten_while_the_kept_key_opens_the_store(
    registered: Cli, tmp_path: Path
) -> None:
    vault = tmp_path / "vault"
    (path,) = (vault / "machines" / "clibox" / "keys").iterdir()
    data = path.read_bytes()
    at = data.index(b'"salt": "') + 12
    path.write_bytes(data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :])
    registered.run("check", expect=14)
    new_file = tmp_path / "new"
    new_file.write_text(NEW + "\n")
    proc = registered.run("passphrase", "change", "--new-passphrase-file", str(new_file))
    assert "were damaged" in proc.stdout
    assert not path.exists() and opens(vault, NEW)
    registered.run("check", "--read-data", env=registered.environ(CAIRN_PASSPHRASE=NEW))


def test_killed_after_every_write_the_machine_opens_with_the_old_or_the_new(
    registered: Cli, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("alpha")
    registered.run("backup", str(src))
    vault, home = tmp_path / "vault", registered.home
    kills = 0
    for k in range(1, 20):
        run_vault, run_home = tmp_path / f"vault-{k}", tmp_path / f"home-{k}"
        shutil.copytree(vault, run_vault)
        shutil.copytree(home, run_home)
        (run_home / "registration.json").write_text(
            (run_home / "registration.json").read_text().replace(str(vault), str(run_vault))
        )
        cli = Cli(run_home)
        env = cli.environ(CAIRN_NEW_PASSPHRASE=NEW, **{ENV: str(k)})
        proc = cli.run("passphrase", "change", env=env, expect=None)
        if proc.returncode == 0:
            break  # k is past the last write: the change completed
        assert proc.returncode == -9, (k, proc.stderr)
        kills += 1
        old_ok, new_ok = opens(run_vault, PASSPHRASE), opens(run_vault, NEW)
        assert old_ok or new_ok, f"killed after write {k}: neither passphrase opens the vault"
        kept = {k: v for k, v in cli.environ().items() if k != "CAIRN_PASSPHRASE"}
        cli.run("recovery-points", env=kept)  # the kept key opens it without any passphrase
        for passphrase, ok in ((PASSPHRASE, old_ok), (NEW, new_ok)):
            if ok:
                cli.run("recovery-points", env=cli.environ(CAIRN_PASSPHRASE=passphrase))
        # A second try completes from wherever the first one stopped.
        current = NEW if new_ok and not old_ok else PASSPHRASE
        cli.run(
            "passphrase",
            "change",
            env=cli.environ(CAIRN_PASSPHRASE=current, CAIRN_NEW_PASSPHRASE=NEW + " 2"),
        )
        assert opens(run_vault, NEW + " 2")
        cli.run("check", env=cli.environ(CAIRN_PASSPHRASE=NEW + " 2"))
        shutil.rmtree(run_vault)
        shutil.rmtree(run_home)
    else:
        pytest.fail("the change never completed")
    assert kills >= 3  # the new key file, CAIRN_HOME's key, the old key file's deletion


def test_the_passphrase_a_first_start_kept_follows(registered: Cli) -> None:
    kept = registered.home / "passphrase"
    kept.write_text(PASSPHRASE + "\n")
    registered.run("passphrase", "change", env=registered.environ(CAIRN_NEW_PASSPHRASE=NEW))
    assert kept.read_text() == NEW + "\n"
