"""Restore through the real `cairn` command: killed mid-way, then run again."""

from __future__ import annotations

import json
import os
import random
import signal
import stat
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cairn.core.clock import SystemClock
from cairn.engine.home import Home
from cairn.engine.listing import find_node
from cairn.engine.session import open_repository
from tests.cli.conftest import Cli
from tests.conftest import tree_digest

pytestmark = pytest.mark.slow


def make_source(src: Path, files: int, size: int) -> None:
    rnd = random.Random(11)
    for d in range(4):
        sub = src / f"d{d}"
        sub.mkdir(parents=True)
        for i in range(files // 4):
            (sub / f"f{i:02d}.bin").write_bytes(rnd.randbytes(size))


def start_restore(cli: Cli, target: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cairn.cli.main", "restore", "latest", "--target", str(target)],
        env=cli.environ(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def some_file_written(target: Path) -> bool:
    return any(files for _dirpath, _dirs, files in os.walk(target))


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGHUP])
def test_restore_killed_mid_way_then_rerun_with_skip_gives_complete_files(
    registered: Cli, tmp_path: Path, sig: signal.Signals
) -> None:
    src = tmp_path / "src"
    make_source(src, files=24, size=3 << 20)
    registered.run("backup", str(src))
    target = tmp_path / "target"
    killed_mid_way = 0
    for _attempt in range(5):
        proc = start_restore(registered, target)
        # The restore runs in short steps, stopped (SIGSTOP) while we look, so a loaded machine
        # cannot let it finish between the first file appearing and the signal.
        while proc.poll() is None:
            time.sleep(0.002)
            os.killpg(proc.pid, signal.SIGSTOP)
            if some_file_written(target):
                break
            os.killpg(proc.pid, signal.SIGCONT)
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
            os.killpg(proc.pid, signal.SIGCONT)
        proc.communicate(timeout=120)
        if proc.returncode != 0:
            killed_mid_way += 1
            break
        subprocess.run(["rm", "-rf", str(target)], check=True)
    assert killed_mid_way, "every restore finished before it could be killed: make it larger"
    restored = target / str(src).lstrip("/")
    # Whatever is under a real name is whole; the rest is a hidden temporary.
    want = tree_digest(src)
    for rel, kind in tree_digest(restored).items():
        if not os.path.basename(rel).startswith(".cairn-restore-"):
            assert want[rel] == kind, f"{rel} is under its real name but not whole"
    registered.run("restore", "latest", "--target", str(target), "--conflict", "skip")
    assert tree_digest(restored) == want  # complete, bit-identical, no temporaries left
    registered.run("check", "--read-data")


def test_one_damaged_folder_is_named_and_the_rest_restored(registered: Cli, tmp_path: Path) -> None:
    src = tmp_path / "src"
    for d in ("good", "bad"):
        (src / d).mkdir(parents=True)
    for i in range(50):
        (src / "good" / f"g{i}.txt").write_text(f"good {i}\n")
    (src / "bad" / "lost.txt").write_text("lost\n")
    (src / "top.txt").write_text("top\n")
    registered.run("backup", str(src))
    home = Home(registered.home)
    repo = open_repository(home, SystemClock())
    index = repo.load_index()
    point = repo.find_point("latest")
    _parts, bad = find_node(repo, index, point.tree, str(src / "bad"))
    assert bad.subtree is not None
    loc = index.get(bad.subtree)
    assert loc is not None
    pack = next(registered.home.parent.glob(f"vault/machines/*/packs/*/{loc.pack_id}"))
    data = bytearray(pack.read_bytes())
    data[loc.offset + loc.length // 2] ^= 0xFF
    pack.write_bytes(bytes(data))
    target = tmp_path / "target"
    proc = registered.run("restore", "latest", "--target", str(target), expect=14)
    restored = target / str(src).lstrip("/")
    assert sorted(p.name for p in (restored / "good").iterdir()) == sorted(
        f"g{i}.txt" for i in range(50)
    )
    assert (restored / "top.txt").read_text() == "top\n"
    assert not (restored / "bad" / "lost.txt").exists()
    assert str(src / "bad") in proc.stderr
    listed = registered.run("ls", "latest", str(src), expect=14)
    assert str(src / "good" / "g49.txt") in listed.stdout
    assert str(src / "top.txt") in listed.stdout
    assert str(src / "bad") in listed.stderr
    registered.run("check", expect=14)


def deep_tree(root: Path, depth: int) -> Path:
    """`root/d/d/.../d/leaf.txt`, `depth` folders deep (made relative to stay under PATH_MAX)."""
    root.mkdir()
    fd = os.open(root, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            sub = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = sub
        leaf = os.open("leaf.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(leaf, b"at the bottom\n")
        os.close(leaf)
    finally:
        os.close(fd)
    return root


def test_a_tree_a_thousand_folders_deep_lists_and_restores(registered: Cli, tmp_path: Path) -> None:
    src = deep_tree(tmp_path / "src", 1000)
    try:
        deep_round_trip(registered, src, tmp_path / "t")
    finally:
        # Python 3.11's shutil.rmtree (pytest's clean-up) recurses: remove the deep trees here.
        subprocess.run(["rm", "-rf", str(src), str(tmp_path / "t")], check=True)


def deep_round_trip(registered: Cli, src: Path, target: Path) -> None:
    registered.run("backup", str(src))
    listed = registered.run("ls", "latest", str(src)).stdout.splitlines()
    assert len(listed) == 1001
    assert listed[-1].endswith("/d" * 1000 + "/leaf.txt")
    registered.run("restore", "latest", "--target", str(target))
    leaf = target / str(src).lstrip("/") / "/".join(["d"] * 1000) / "leaf.txt"
    assert leaf.read_text() == "at the bottom\n"
    registered.run("check", "--read-data")


CAP_NET_RAW = struct.pack("<IIIII", 0x02000001, 1 << 13, 0, 0, 0)  # vfs caps v2, effective


@pytest.mark.skipif(os.geteuid() != 0, reason="device nodes and file capabilities need root")
def test_another_machines_point_restores_no_devices_setuid_or_capabilities_unless_asked(
    registered: Cli, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    os.mknod(src / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    suid = src / "suid"
    suid.write_bytes(b"#!/bin/sh\n")
    os.chmod(suid, 0o6755)
    capped = src / "capped"
    capped.write_bytes(b"ping\n")
    os.setxattr(capped, "security.capability", CAP_NET_RAW)
    (src / "plain.txt").write_text("plain\n")
    registered.run("backup", str(src))
    other = Cli(tmp_path / "home2")
    other.run("register", str(tmp_path / "vault"), "--machine", "otherbox")

    target = tmp_path / "t1"
    proc = other.run("restore", "latest", "--machine", "clibox", "--target", str(target), expect=3)
    got = target / str(src).lstrip("/")
    assert (got / "plain.txt").read_text() == "plain\n"
    assert not os.path.lexists(got / "null")
    assert stat.S_IMODE(os.lstat(got / "suid").st_mode) == 0o755
    assert "security.capability" not in os.listxattr(got / "capped")
    assert proc.stderr.count("--restore-special") >= 3  # one warning per kind, naming the flag

    target = tmp_path / "t2"
    other.run(
        "restore", "latest", "--machine", "clibox", "--target", str(target), "--restore-special"
    )
    got = target / str(src).lstrip("/")
    assert stat.S_ISCHR(os.lstat(got / "null").st_mode)
    assert stat.S_IMODE(os.lstat(got / "suid").st_mode) == 0o6755
    assert os.getxattr(got / "capped", "security.capability") == CAP_NET_RAW

    # This machine's own point restores as stored, as before.
    target = tmp_path / "t3"
    registered.run("restore", "latest", "--target", str(target))
    assert stat.S_ISCHR(os.lstat(target / str(src).lstrip("/") / "null").st_mode)
    registered.run("check", "--read-data")


def test_restore_summary_counts_copies_overwrites_skips_and_identical(
    registered: Cli, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a\n")
    (src / "b.txt").write_text("b\n")
    registered.run("backup", str(src))
    (src / "a.txt").write_text("edited\n")
    out = registered.run("restore", "latest", "--json").stdout
    doc = json.loads(out)
    assert (doc["copies"], doc["overwrites"], doc["skipped"], doc["identical"]) == (1, 0, 0, 1)
    text = registered.run("restore", "latest").stdout
    assert "0 kept beside a copy, 0 overwritten, 0 left alone (skip), 2 already identical" in text
    assert len(os.listdir(src)) == 3
    doc = json.loads(
        registered.run("restore", "latest", "--conflict", "overwrite", "--json").stdout
    )
    assert (doc["overwrites"], doc["identical"]) == (1, 1)
    assert (src / "a.txt").read_text() == "a\n"
    registered.run("check")


def depth_below(root: Path) -> int:
    """How many `d` folders nest below `root`, followed by descriptor (no path past PATH_MAX)."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    depth = 0
    try:
        while True:
            try:
                sub = os.open("d", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                return depth
            os.close(fd)
            fd = sub
            depth += 1
    finally:
        os.close(fd)


def test_a_tree_deeper_than_path_max_under_the_target_restores_whole(
    registered: Cli, tmp_path: Path
) -> None:
    # The target adds its own path in front of every restored path, so the deepest folders of
    # this point are past PATH_MAX once restored: written relative to their parent's descriptor,
    # they restore all the same (they were skipped with a warning, exit 3, before).
    src = deep_tree(tmp_path / "src", 3000)
    target = tmp_path / "t"
    try:
        registered.run("backup", str(src), expect=3)  # the walk stops at PATH_MAX, and says so
        listed = registered.run("ls", "latest", str(src)).stdout.splitlines()
        assert len(listed) > 2000
        proc = registered.run("restore", "latest", "--target", str(target))
        assert proc.stderr == ""
        restored = target / str(src).lstrip("/")
        assert depth_below(restored) == len(listed)  # every folder the point holds
        assert len(os.fsencode(target)) + len(listed[-1]) > 4096
        registered.run("check", "--read-data")
    finally:
        subprocess.run(["rm", "-rf", str(src), str(target)], check=True)
