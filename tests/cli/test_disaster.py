"""Disaster: CAIRN_HOME is gone with the machine. On a new machine (a fresh CAIRN_HOME, another
host name, no cloud secrets in its environment) the vault credentials file and the passphrase
alone bring everything back, bit-identical with its metadata, for a local, an Azure (Azurite) and
an S3 (SeaweedFS) vault; the new machine then goes on backing up into the same store."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import textwrap
from pathlib import Path

import pytest

from tests.cli.conftest import PASSPHRASE, Cli
from tests.cli.test_cloud_vaults import cloud_env


def make_source(root: Path) -> Path:
    (root / "docs" / "deep" / "deeper").mkdir(parents=True)
    (root / "empty-folder").mkdir()
    (root / "docs" / "a.txt").write_text("alpha\n" * 10_000)
    (root / "docs" / "deep" / "big.bin").write_bytes(os.urandom(9 << 20))  # several packs
    (root / "docs" / "deep" / "deeper" / "zero").write_bytes(b"")
    (root / "docs" / "script.sh").write_text("#!/bin/sh\necho hi\n")
    os.chmod(root / "docs" / "script.sh", 0o750)
    os.chmod(root / "docs" / "a.txt", 0o640)
    os.symlink("docs/a.txt", root / "link")
    os.symlink("/nowhere/at/all", root / "dangling")
    os.link(root / "docs" / "a.txt", root / "hardlink")
    os.setxattr(root / "docs" / "a.txt", "user.note", b"kept with the file")
    os.mkfifo(root / "pipe")
    for i, path in enumerate(sorted(root.rglob("*"), reverse=True)):
        os.utime(path, ns=(1_600_000_000_000_000_000 + i, 1_500_000_000_123_456_789 + i * 1000),
                 follow_symlinks=False)  # fmt: skip
    os.utime(root, ns=(1_600_000_000_000_000_000, 1_500_000_000_000_000_001))
    return root


def describe(root: Path) -> dict[str, tuple[object, ...]]:
    """Everything restore must bring back: type, mode, mtime, owner, bytes, link target, xattrs,
    hard links (as the set of names sharing an inode)."""
    out: dict[str, tuple[object, ...]] = {}
    inodes: dict[int, list[str]] = {}
    for path in [root, *sorted(root.rglob("*"))]:
        rel = str(path.relative_to(root))
        st = os.lstat(path)
        kind = stat.S_IFMT(st.st_mode)
        content: object = None
        if stat.S_ISREG(st.st_mode):
            content = hashlib.sha256(path.read_bytes()).hexdigest()
            inodes.setdefault(st.st_ino, []).append(rel)
        elif stat.S_ISLNK(st.st_mode):
            content = os.readlink(path)
        xattrs = (
            {}
            if stat.S_ISLNK(st.st_mode)
            else {n: os.getxattr(path, n) for n in sorted(os.listxattr(path))}
        )
        out[rel] = (kind, stat.S_IMODE(st.st_mode), st.st_mtime_ns, st.st_uid, st.st_gid,
                    content, xattrs)  # fmt: skip
    out["(hard links)"] = (sorted(sorted(v) for v in inodes.values() if len(v) > 1),)
    return out


def new_host(tmp_path: Path, name: str) -> str:
    """A PYTHONPATH under which the commands see another host name."""
    patch = tmp_path / f"host-{name}"
    patch.mkdir()
    (patch / "sitecustomize.py").write_text(
        textwrap.dedent(f"""
            import socket
            socket.gethostname = lambda: {name!r}
        """)
    )
    return os.pathsep.join([str(patch), os.environ.get("PYTHONPATH", "")])


@pytest.mark.parametrize("backend", ["local", "azure", "s3"])
def test_everything_comes_back_on_a_new_machine_from_the_credentials_file_and_passphrase(
    tmp_path: Path, backend: str
) -> None:
    if backend == "local":
        location, env = str(tmp_path / "vault"), {}
    else:
        location, env = cloud_env(backend)
    old = Cli(tmp_path / "old-home", env={**env, "PYTHONPATH": new_host(tmp_path, "old-host")})
    creds = tmp_path / "vault.creds.json"
    old.run("vault", "create", location, "--save-credentials", str(creds))
    old.run("register", location)  # machine name: the host name, "old-host"
    src = make_source(tmp_path / "src")
    old.run("backup", str(src))
    (src / "docs" / "later.txt").write_text("written after the first point\n")
    os.utime(src / "docs" / "later.txt", ns=(1_600_000_000_000_000_000, 1_500_000_000_000_000_000))
    os.utime(src / "docs", ns=(1_600_000_000_000_000_000, 1_500_000_000_000_000_003))
    old.run("backup", str(src))
    expected = describe(src)
    kept = Path(shutil.copy2(creds, tmp_path / "safe.creds.json"))  # what the user kept away

    shutil.rmtree(old.home)  # the disaster: the machine and its CAIRN_HOME are gone
    creds.unlink()

    bare = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AZURE_", "CAIRN_"))}
    new = Cli(tmp_path / "new-home")
    new_env = {
        **bare,
        "CAIRN_HOME": str(new.home),
        "CAIRN_PASSPHRASE": PASSPHRASE,
        "PYTHONPATH": new_host(tmp_path, "new-host"),
    }
    out = new.run(
        "register", "--vault-credentials", str(kept), "--machine", "old-host", env=new_env
    )
    assert "old-host" in out.stdout + out.stderr
    points = json.loads(new.run("recovery-points", "--json", env=new_env).stdout)
    assert len(points) == 2
    target = tmp_path / "restored"
    new.run("restore", "latest", "--target", str(target), env=new_env)

    assert describe(target / src.relative_to("/")) == expected
    first = tmp_path / "restored-first"
    new.run("restore", points[0]["id"], "--target", str(first), env=new_env)
    assert not (first / src.relative_to("/") / "docs" / "later.txt").exists()
    assert (first / src.relative_to("/") / "docs" / "deep" / "big.bin").read_bytes() == (
        src / "docs" / "deep" / "big.bin"
    ).read_bytes()
    # The new machine goes on unattended (no passphrase) with what registering kept.
    unattended = {**new_env, "CAIRN_PASSPHRASE": ""}
    (src / "docs" / "after.txt").write_text("after the disaster\n")
    new.run("backup", str(src), env=unattended)
    new.run("check", "--read-data", env=unattended)
    assert len(json.loads(new.run("recovery-points", "--json", env=unattended).stdout)) == 3
