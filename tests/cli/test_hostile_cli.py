"""A hostile vault through the command line: restore and check name the case, with exit 14 for
damage in the vault and exit 1 for a local symlink in the way; nothing is written outside."""

from __future__ import annotations

import os
from pathlib import Path

from cairn.core.clock import SystemClock
from cairn.engine.home import Home
from cairn.engine.session import open_repository
from cairn.vault.tree import Node
from tests.cli.conftest import Cli
from tests.engine.test_untrusted_vault import data_node, plant_point


def test_restore_and_check_name_a_hostile_entry_with_exit_14(
    registered: Cli, tmp_path: Path
) -> None:
    repo = open_repository(Home(registered.home), SystemClock())
    payload = data_node(repo, b"passwd", b"owned\n")
    sub_id, _ = repo.tree_id([payload])
    evil = Node(name=b"..", kind="dir", mode=0o755, subtree=sub_id)
    point = plant_point(repo, [evil], {sub_id: [payload]})
    target = tmp_path / "deep" / "target"
    target.mkdir(parents=True)
    proc = registered.run("restore", point.id[:12], "--target", str(target), expect=14)
    assert "the vault names an entry '..'" in proc.stderr
    assert not (tmp_path / "deep" / "passwd").exists() and os.listdir(target) == []
    proc = registered.run("check", expect=14)
    assert point.id[:8] in proc.stderr + proc.stdout


def test_a_symlink_in_the_target_where_a_folder_goes_is_exit_1_and_not_followed(
    registered: Cli, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    (src / "dir").mkdir(parents=True)
    (src / "dir" / "f.txt").write_text("from the backup\n")
    registered.run("backup", str(src))
    target = tmp_path / "target"
    outside = tmp_path / "outside"
    outside.mkdir()
    (target / str(src).lstrip("/")).mkdir(parents=True)
    os.symlink(outside, target / str(src).lstrip("/") / "dir")
    proc = registered.run("restore", "latest", "--target", str(target), expect=1)
    assert "is a symlink where the recovery point has a folder" in proc.stderr
    assert os.listdir(outside) == []
    registered.run("check")
