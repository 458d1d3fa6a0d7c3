"""`vault create --save-credentials` and `register --vault-credentials`: a second machine needs
only the file and a passphrase; the secrets in it never reach the terminal."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from tests.cli.conftest import Cli
from tests.conftest import tree_digest

SECRET = "s3cr3t-never-printed-0xdeadbeef"
LAPTOP = "the laptop's own passphrase"


def test_a_second_machine_with_only_the_file_restores_the_first_ones_points(
    cli: Cli, tmp_path: Path
) -> None:
    vault, creds = tmp_path / "vault", tmp_path / "vault-credentials.json"
    # A local vault saves no secrets, whatever the environment holds.
    env = cli.environ(AWS_SECRET_ACCESS_KEY=SECRET, AZURE_STORAGE_KEY=SECRET)
    out = cli.run("vault", "create", str(vault), "--save-credentials", str(creds), env=env)
    assert f"cairn register --vault-credentials {creds}" in out.stdout
    assert stat.S_IMODE(os.stat(creds).st_mode) == 0o600
    doc = json.loads(creds.read_text())
    assert doc["vault"] == str(vault) and doc["credentials"] == {} and doc["created"]
    assert len(doc["vault_id"]) == 32

    cli.run("register", "--vault-credentials", str(creds), "--machine", "office")
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "d" / "report.txt").write_text("quarterly figures\n" * 100)
    cli.run("backup", str(src))

    laptop = Cli(tmp_path / "laptop-home")
    as_laptop = laptop.environ(CAIRN_PASSPHRASE=LAPTOP)
    out = laptop.run(
        "register", "--vault-credentials", str(creds), "--machine", "laptop", env=as_laptop
    )
    assert "registered new machine 'laptop'" in out.stdout
    # The office's recovery points, with the office's passphrase.
    points = laptop.run("recovery-points", "--machine", "office", "--json")
    assert len(json.loads(points.stdout)) == 1
    target = tmp_path / "restored"
    laptop.run("restore", "latest", "--machine", "office", "--target", str(target))
    assert tree_digest(target / str(src).lstrip("/")) == tree_digest(src)
    wrong = laptop.run("restore", "latest", "--machine", "office", "--target", str(target),
                       expect=12, env=as_laptop)  # fmt: skip
    assert "wrong passphrase" in wrong.stderr

    # The office machine is lost: a new one goes on with its store, from the file and its
    # passphrase alone.
    rebuilt = Cli(tmp_path / "rebuilt-home")
    out = rebuilt.run("register", "--vault-credentials", str(creds), "--machine", "office")
    assert "registered again as machine 'office'" in out.stdout
    again = tmp_path / "again"
    rebuilt.run("restore", "latest", "--target", str(again))
    assert tree_digest(again / str(src).lstrip("/")) == tree_digest(src)
    rebuilt.run("backup", str(src))
    cli.run("check", "--read-data")


def test_the_file_must_be_private_and_for_this_vault(cli: Cli, tmp_path: Path) -> None:
    vault, creds = tmp_path / "vault", tmp_path / "creds.json"
    cli.run("vault", "create", str(vault), "--save-credentials", str(creds))
    again = cli.run("vault", "create", str(tmp_path / "v2"), "--save-credentials", str(creds),
                    expect=2)  # fmt: skip
    assert "exists already" in again.stderr
    assert not (tmp_path / "v2").exists()  # refused before creating anything

    os.chmod(creds, 0o644)
    proc = cli.run("register", "--vault-credentials", str(creds), expect=2)
    assert "open to group or others" in proc.stderr and f"chmod 600 {creds}" in proc.stderr
    os.chmod(creds, 0o600)

    # The vault was made again at the same place: the file is for the old one.
    for p in sorted(vault.rglob("*"), reverse=True):
        p.rmdir() if p.is_dir() else p.unlink()
    cli.run("vault", "create", str(vault))
    proc = cli.run("register", "--vault-credentials", str(creds), expect=2)
    assert "is for vault" in proc.stderr
    assert not (cli.home / "registration.json").exists()

    proc = cli.run("register", str(vault), "--vault-credentials", str(creds), expect=2)
    assert "either" in proc.stderr
    proc = cli.run("register", expect=2)
    assert "either" in proc.stderr
    cli.run("register", str(vault))
    cli.run("check", "--read-data")


def test_secrets_never_reach_the_terminal(cli: Cli, tmp_path: Path) -> None:
    """A secret in a credentials file (a local vault ignores it, but keeps it like any other) or
    in a location never appears in any output, on success or on error."""
    vault = tmp_path / "vault"
    made = tmp_path / "made.json"
    cli.run("vault", "create", str(vault), "--save-credentials", str(made))
    doc = json.loads(made.read_text())
    doc["credentials"] = {"account_key": SECRET}
    creds = tmp_path / "creds.json"
    creds.write_text(json.dumps(doc))
    os.chmod(creds, 0o600)
    outputs = []

    def run(*args: str, expect: int = 0, path: Path = creds) -> None:
        proc = cli.run(*[str(path) if a == "FILE" else a for a in args], expect=expect)
        outputs.append(proc.stdout + proc.stderr)

    run("register", "--vault-credentials", "FILE", "--machine", "box")
    kept = cli.home / "credentials" / f"{doc['vault_id']}.json"
    assert stat.S_IMODE(os.stat(kept).st_mode) == 0o600
    assert SECRET in kept.read_text()  # kept for unattended runs, privately
    assert SECRET not in (cli.home / "registration.json").read_text()
    src = tmp_path / "src"
    src.mkdir()
    (src / "a").write_text("a")
    run("backup", str(src))
    run("recovery-points", "--json")
    run("ls", "latest")
    run("check", "--read-data")

    # Error paths: a file others can read, one for another vault, a malformed one, a location
    # with a secret in it, a secret where a vault id belongs.
    os.chmod(creds, 0o640)
    run("register", "--vault-credentials", "FILE", expect=2)
    os.chmod(creds, 0o600)
    for bad in (
        {**doc, "vault_id": "cd" * 16},
        {**doc, "credentials": [SECRET]},
        {**doc, "vault": f"azure://c/p?sig={SECRET}"},
        {**doc, "vault_id": SECRET},
        {**doc, "vault": "azure://c/p", "credentials": {"acount_key": SECRET}},
    ):
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(bad))
        os.chmod(path, 0o600)
        run("register", "--vault-credentials", "FILE", expect=2, path=path)
    run("register", f"azure://c/p?sv=1&sig={SECRET}", expect=2)
    run("register", f"s3://AKIA:{SECRET}@bucket/p", expect=2)
    run("vault", "create", f"s3://AKIA:{SECRET}@bucket/p", expect=2)
    assert all(out for out in outputs[5:])  # every refusal says something
    for out in outputs:
        assert SECRET not in out, out
