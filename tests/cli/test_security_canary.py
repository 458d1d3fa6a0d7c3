"""Security: a wrong passphrase writes nothing anywhere; the raw vault shows no file name, path,
content, xattr, host, user or group name (what is in clear is the format's: vault.json, the
machine's config and the object names); every file CAIRN_HOME keeps is 0600 in 0700 folders,
whatever the umask."""

from __future__ import annotations

import os
import stat
import textwrap
from pathlib import Path

import pytest

from cairn.core.clock import SystemClock
from cairn.core.errors import EXIT_WRONG_PASSPHRASE
from cairn.engine.home import Home
from cairn.engine.listing import find_node
from cairn.engine.session import open_repository
from tests.agent.conftest import AgentProcess
from tests.cli.conftest import PASSPHRASE, Cli

CANARY = "cnry7f3a9q"  # unique strings, each with this prefix, planted everywhere
CANARY_HOST = f"{CANARY}-host.example"
CANARY_USER, CANARY_GROUP = f"{CANARY}-owner", f"{CANARY}-team"


def tree_state(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every path under root (folders too) with its mode and bytes: to prove nothing changed."""
    out: dict[str, tuple[int, bytes]] = {str(root): (os.lstat(root).st_mode, b"")}
    for p in sorted(root.rglob("*")):
        st = os.lstat(p)
        out[str(p.relative_to(root))] = (st.st_mode, p.read_bytes() if p.is_file() else b"")
    return out


def test_a_wrong_passphrase_leaves_vault_and_home_byte_identical(
    registered: Cli, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a").write_text("a")
    registered.run("backup", str(src))
    policy = tmp_path / "policy.toml"
    policy.write_text(
        f'[policy]\nitems = ["{src}"]\ntimezone = "UTC"\n[schedule]\nfrequency = "daily"\n'
        'times = ["21:00"]\n[retention.daily]\ndays = 7\n'
    )
    new_pass = tmp_path / "new-pass"
    new_pass.write_text("a brand new passphrase of some length\n")
    vault, home = tmp_path / "vault", registered.home
    before = (tree_state(vault), tree_state(home))
    wrong = registered.environ(CAIRN_PASSPHRASE="this is not the passphrase")

    for args in (
        ["backup", str(src)],
        ["recovery-points"],
        ["ls", "latest"],
        ["check", "--read-data"],
        ["restore", "latest", "--target", str(tmp_path / "r")],
        ["prune"],
        ["policy", "set", "--file", str(policy)],
        ["passphrase", "change", "--new-passphrase-file", str(new_pass)],
        ["register", str(vault), "--machine", "clibox"],
        ["recovery-points", "--machine", "clibox"],
    ):
        proc = registered.run(*args, expect=EXIT_WRONG_PASSPHRASE, env=wrong)
        assert "wrong passphrase" in proc.stderr, args
        assert (tree_state(vault), tree_state(home)) == before, args
    assert not (tmp_path / "r").exists()


HOSTNAME_PATCH = textwrap.dedent(
    f"""
    import grp, pwd, socket
    socket.gethostname = lambda: {CANARY_HOST!r}
    class _User:
        pw_name = {CANARY_USER!r}
    class _Group:
        gr_name = {CANARY_GROUP!r}
    pwd.getpwuid = lambda uid: _User()
    grp.getgrgid = lambda gid: _Group()
    """
)


def test_the_raw_vault_shows_no_name_path_content_xattr_or_host(tmp_path: Path) -> None:
    # The host, user and group names are canaries too: a sitecustomize in the commands' path
    # gives them those (a real user name, "root" here, is too short to tell from chance).
    patch = tmp_path / "patch"
    patch.mkdir()
    (patch / "sitecustomize.py").write_text(HOSTNAME_PATCH)
    cli = Cli(tmp_path / "home")
    cli.env["PYTHONPATH"] = os.pathsep.join([str(patch), os.environ.get("PYTHONPATH", "")])
    vault = tmp_path / "vault"
    cli.run("vault", "create", str(vault))
    cli.run("register", str(vault), "--machine", "box")  # the machine name is in clear: by design

    src = tmp_path / f"{CANARY}-folder" / f"{CANARY}-sub"
    src.mkdir(parents=True)
    (src / f"{CANARY}-name.txt").write_text(f"{CANARY}-content " * 1000)
    (src / "small").write_text(f"{CANARY}-tiny")
    os.symlink(f"/{CANARY}-link-target", src / "link")
    try:
        os.setxattr(src / "small", f"user.{CANARY}-xattr-name", f"{CANARY}-xattr-value".encode())
    except OSError:
        pytest.fail("this file system takes no user xattrs: run where it does")
    cli.run("backup", str(src))
    cli.run("check", "--read-data")
    # The host name and the owners are recorded (sealed): the patch took, so their absence below
    # means something.
    assert CANARY_HOST in cli.run("recovery-points", "--json").stdout
    repo = open_repository(Home(cli.home), SystemClock())
    _parts, node = find_node(
        repo, repo.load_index(), repo.find_point("latest").tree, str(src / "small")
    )
    assert (node.user, node.group) == (CANARY_USER, CANARY_GROUP)

    raw = b"".join(
        p.relative_to(vault).as_posix().encode() + b"\0" + p.read_bytes()
        for p in sorted(vault.rglob("*"))
        if p.is_file()
    )
    assert len(raw) > 4000
    assert CANARY.encode() not in raw
    assert CANARY.encode().hex().encode() not in raw
    assert str(tmp_path).encode() not in raw
    assert CANARY_USER.encode() not in raw and CANARY_GROUP.encode() not in raw
    user = os.environ.get("USER") or os.environ.get("LOGNAME") or ""
    if len(user) >= 6:  # shorter ones may appear by chance in ciphertext
        assert user.encode() not in raw


def modes(home: Path) -> dict[str, str]:
    out = {}
    for p in [home, *sorted(home.rglob("*"))]:
        st = os.lstat(p)
        kind = "dir" if stat.S_ISDIR(st.st_mode) else "file"
        out[str(p.relative_to(home.parent))] = f"{kind} {stat.S_IMODE(st.st_mode):04o}"
    return out


def test_every_file_cairn_home_keeps_is_private_whatever_the_umask(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "home")
    loose = ["sh", "-c", 'umask 000; exec "$@"', "sh"]
    vault = tmp_path / "vault"
    cli.run("vault", "create", str(vault), prefix=loose)
    cli.run("register", str(vault), "--machine", "box", prefix=loose)
    src = tmp_path / "src"
    src.mkdir()
    (src / "a").write_text("a")
    policy = tmp_path / "policy.toml"
    policy.write_text(
        f'[policy]\nitems = ["{src}"]\ntimezone = "UTC"\n[schedule]\nfrequency = "daily"\n'
        'times = ["21:00"]\n[retention.daily]\ndays = 7\n'
    )
    cli.run("policy", "set", "--file", str(policy), prefix=loose)
    cli.run(
        "throttle", "set", "--work-hours", "09:00-18:00", "--work-days", "mon-fri",
        "--work-rate", "4Mbps", "--other-rate", "100Mbps", prefix=loose,
    )  # fmt: skip
    cli.run("backup", str(src), prefix=loose)
    old_umask = os.umask(0)
    try:
        agent = AgentProcess(cli, "--no-setup")  # inherits umask 000 from this process
        agent.client.jobs()
        seen_running = modes(cli.home)
        agent.proc.terminate()
        agent.wait()
    finally:
        os.umask(old_umask)

    for state in (seen_running, modes(cli.home)):
        loose_ones = {
            path: mode for path, mode in state.items() if mode not in ("dir 0700", "file 0600")
        }
        assert loose_ones == {}, loose_ones
    assert any(path.endswith("agent.secret") for path in seen_running)
    assert any(path.endswith(".key") for path in seen_running)


def test_the_passphrase_never_appears_in_cairn_home_in_clear(
    registered: Cli, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a").write_text("a")
    registered.run("backup", str(src))

    for p in registered.home.rglob("*"):
        if p.is_file():
            assert PASSPHRASE.encode() not in p.read_bytes(), p
