"""A hostile vault: someone with write access to the vault (and, here, the keys to seal what they
like) plants recovery points whose trees lie. Each case: restore writes nothing outside its
target, and the case is named, by restore and by `check`."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cairn.core.errors import DamageFound, UnsafePath, UnsafeTarget
from cairn.core.events import Reporter
from cairn.engine.check import check
from cairn.engine.restore import RestoreOptions, restore
from cairn.vault.packs import DATA, TREE
from cairn.vault.repository import Repository
from cairn.vault.tree import Node
from tests.conftest import Machine
from tests.engine.test_untrusted_vault import data_node, plant_point


def outside_state(machine: Machine) -> dict[str, tuple[int, int]]:
    """Everything on disk around the target (not the vault, not CAIRN_HOME): path -> (mode, size)."""
    out: dict[str, tuple[int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(machine.tmp):
        here = Path(dirpath)
        if here == machine.tmp:
            dirnames[:] = [d for d in dirnames if d not in ("vault", "home", "target")]
        for name in dirnames + filenames:
            st = os.lstat(here / name)
            out[str(here / name)] = (st.st_mode, st.st_size)
    return out


@pytest.fixture
def arena(machine: Machine) -> tuple[Path, Path]:
    """A target, and a folder outside it that hostile entries aim at."""
    target = machine.tmp / "target"
    target.mkdir()
    outside = machine.tmp / "outside"
    outside.mkdir()
    (outside / "passwd").write_text("root:x:0:0\n")
    return target, outside


def check_names(machine: Machine, *words: str) -> None:
    errors = check(machine.repo()).errors
    assert any(all(w in e for w in words) for e in errors), errors


@pytest.mark.parametrize(
    "name",
    [b"..", b"/etc/passwd", b"/", b"../../outside/passwd", b"a/b", b"x\x00y", b"."],
    ids=["dotdot", "absolute", "slash", "dotdot-path", "inner-slash", "nul", "dot"],
)
def test_a_hostile_name_writes_nothing_and_is_named(
    machine: Machine, arena: tuple[Path, Path], name: bytes
) -> None:
    target, _ = arena
    repo = machine.repo()
    point = plant_point(repo, [data_node(repo, name, b"owned\n")], {})
    before = outside_state(machine)
    with pytest.raises(UnsafePath) as e:
        restore(machine.repo(), point, RestoreOptions(target=str(target)))
    assert e.value.exit_code == 14
    assert outside_state(machine) == before
    assert os.listdir(target) == []
    check_names(machine, point.id[:8], "the vault names an entry")


def test_a_hostile_name_for_a_folder_writes_nothing_below_it(
    machine: Machine, arena: tuple[Path, Path]
) -> None:
    target, _ = arena
    repo = machine.repo()
    payload = data_node(repo, b"passwd", b"owned\n")
    sub_id, _ = repo.tree_id([payload])
    evil = Node(name=b"../outside", kind="dir", mode=0o755, subtree=sub_id)
    point = plant_point(repo, [evil], {sub_id: [payload]})
    before = outside_state(machine)
    with pytest.raises(UnsafePath, match="'/' in its name"):
        restore(machine.repo(), point, RestoreOptions(target=str(target)))
    assert outside_state(machine) == before
    check_names(machine, "'/' in its name")


@pytest.mark.parametrize("second", ["file", "dir"])
def test_a_symlink_then_an_entry_of_the_same_name_is_refused(
    machine: Machine, arena: tuple[Path, Path], second: str
) -> None:
    # `x -> outside` first, then a file `x` (or a folder `x` holding `passwd`): written after the
    # link, either would land outside.
    target, outside = arena
    repo = machine.repo()
    link = Node(name=b"x", kind="symlink", mode=0o777, target=os.fsencode(outside))
    payload = data_node(repo, b"passwd", b"owned\n")
    sub_id, _ = repo.tree_id([payload])
    if second == "file":
        other = data_node(repo, b"x", b"owned\n")
        extra: dict[bytes, list[Node]] = {}
    else:
        other = Node(name=b"x", kind="dir", mode=0o755, subtree=sub_id)
        extra = {sub_id: [payload]}
    top_id, _ = repo.tree_id([link, other])
    point = plant_point(
        repo,
        [Node(name=b"top", kind="dir", mode=0o755, subtree=top_id)],
        {**extra, top_id: [link, other]},
    )
    before = outside_state(machine)
    with pytest.raises(UnsafePath, match="names one entry twice"):
        restore(machine.repo(), point, RestoreOptions(target=str(target)))
    assert outside_state(machine) == before
    assert (outside / "passwd").read_text() == "root:x:0:0\n"
    check_names(machine, point.id[:8], "names one entry twice")


def test_a_folder_named_like_a_symlink_an_earlier_restore_made_is_not_entered(
    machine: Machine, arena: tuple[Path, Path]
) -> None:
    target, outside = arena
    repo = machine.repo()
    link = Node(name=b"x", kind="symlink", mode=0o777, target=os.fsencode(outside))
    first = plant_point(repo, [link], {})
    payload = data_node(repo, b"passwd", b"owned\n")
    sub_id, _ = repo.tree_id([payload])
    second = plant_point(
        repo, [Node(name=b"x", kind="dir", mode=0o755, subtree=sub_id)], {sub_id: [payload]}
    )
    restore(machine.repo(), first, RestoreOptions(target=str(target)))
    assert os.readlink(target / "x") == str(outside)  # a symlink is data: restored as it is
    before = outside_state(machine)
    for conflict in ("copy", "overwrite", "skip"):
        with pytest.raises(
            UnsafeTarget, match="is a symlink where the recovery point has a folder"
        ):
            restore(machine.repo(), second, RestoreOptions(target=str(target), conflict=conflict))
        assert outside_state(machine) == before
    # And a file where that symlink is: replaced (overwrite), never written through.
    third = plant_point(repo, [data_node(repo, b"x", b"owned\n")], {})
    restore(machine.repo(), third, RestoreOptions(target=str(target), conflict="overwrite"))
    assert (target / "x").read_bytes() == b"owned\n" and not (target / "x").is_symlink()
    assert outside_state(machine) == before
    machine.check_clean()


@pytest.mark.skipif(os.geteuid() != 0, reason="device nodes need root")
def test_device_nodes_from_a_point_not_trusted_are_not_created(
    machine: Machine, arena: tuple[Path, Path]
) -> None:
    target, _ = arena
    repo = machine.repo()
    disk = Node(name=b"sda", kind="blockdev", mode=0o666, rdev=os.makedev(8, 0))
    mem = Node(name=b"mem", kind="chardev", mode=0o666, rdev=os.makedev(1, 1))
    setuid = data_node(repo, b"sh", b"#!/bin/sh\n")
    setuid.mode = 0o4755
    point = plant_point(repo, [disk, mem, setuid], {})
    reporter = Reporter()
    restore(
        machine.repo(),
        point,
        RestoreOptions(target=str(target), restore_special=False),
        reporter,
    )
    assert sorted(os.listdir(target)) == ["sh"]
    assert stat.S_IMODE(os.lstat(target / "sh").st_mode) == 0o755
    texts = " ".join(w.message for w in reporter.warnings)
    assert "2 device node(s) not created" in texts and "--restore-special" in texts
    assert "without their setuid/setgid bits" in texts
    machine.check_clean()


def test_data_offered_as_a_folder_listing_is_named_and_skipped(
    machine: Machine, arena: tuple[Path, Path]
) -> None:
    target, _ = arena
    repo = machine.repo()
    good = data_node(repo, b"good.txt", b"good\n")
    blob = data_node(repo, b"ignored", b'{"v":1,"entries":[]}')  # data that parses as a tree
    confused = Node(name=b"sub", kind="dir", mode=0o755, subtree=blob.content[0])
    point = plant_point(repo, [confused, good], {})
    result = restore(machine.repo(), point, RestoreOptions(target=str(target)))
    assert (target / "good.txt").read_text() == "good\n"
    assert result.damaged == [str(target / "sub")]
    assert os.listdir(target / "sub") == []
    check_names(machine, point.id[:8], "names file data, not a folder listing")


def test_a_folder_listing_offered_as_file_data_is_named_and_not_written(
    machine: Machine, arena: tuple[Path, Path]
) -> None:
    target, _ = arena
    repo = machine.repo()
    good = data_node(repo, b"good.txt", b"good\n")
    listing_id, _ = repo.tree_id([good])
    confused = Node(name=b"secret.txt", kind="file", mode=0o644, size=10, content=[listing_id])
    point = plant_point(repo, [confused, good], {listing_id: [good]})
    result = restore(machine.repo(), point, RestoreOptions(target=str(target)))
    assert (target / "good.txt").read_text() == "good\n"
    assert result.damaged == [str(target / "secret.txt")]
    assert not (target / "secret.txt").exists()
    check_names(machine, point.id[:8], "secret.txt names a folder listing, not data")


def test_blob_kinds_in_the_index_are_what_the_hostile_points_use(machine: Machine) -> None:
    # The two confusion cases above rely on the index telling data from trees.
    repo: Repository = machine.repo()
    node = data_node(repo, b"f", b"x")
    tree_id, _ = repo.tree_id([node])
    plant_point(repo, [node], {})
    index = repo.load_index()
    assert index.get(node.content[0]).kind == DATA  # type: ignore[union-attr]
    assert index.get(tree_id).kind == TREE  # type: ignore[union-attr]


def test_a_point_expanding_without_end_is_stopped_and_named(
    machine: Machine, arena: tuple[Path, Path]
) -> None:
    target, _ = arena
    repo = machine.repo()
    trees: dict[bytes, list[Node]] = {}
    level = [data_node(repo, b"x", b"x")]
    for _ in range(16):
        tree_id, _ = repo.tree_id(level)
        trees[tree_id] = level
        level = [Node(name=n, kind="dir", mode=0o755, subtree=tree_id) for n in (b"a", b"b")]
    point = plant_point(repo, level, trees)
    before = outside_state(machine)
    with pytest.raises(DamageFound, match=f"recovery point {point.id[:8]} expands"):
        restore(machine.repo(), point, RestoreOptions(target=str(target)))
    assert outside_state(machine) == before


@pytest.mark.parametrize(
    "node",
    [
        Node(name=b"link", kind="symlink", mode=0o777, target=b"/etc\x00/passwd"),
        Node(name=b"dev", kind="chardev", mode=0o600, rdev=1 << 70),
        Node(name=b"n" * 300, kind="fifo", mode=0o600),
        Node(name=b"old", kind="fifo", mode=0o600, mtime_ns=1 << 80, uid=1 << 40),
    ],
    ids=["nul-in-link-target", "huge-rdev", "name-too-long", "huge-time-and-owner"],
)
def test_an_impossible_entry_is_named_and_the_rest_restored(
    machine: Machine, arena: tuple[Path, Path], node: Node
) -> None:
    target, _ = arena
    repo = machine.repo()
    good = data_node(repo, b"good.txt", b"good\n")
    point = plant_point(repo, [good, node], {})
    reporter = Reporter()
    before = outside_state(machine)
    restore(machine.repo(), point, RestoreOptions(target=str(target)), reporter)
    assert (target / "good.txt").read_text() == "good\n"
    assert outside_state(machine) == before
    shown = str(target / os.fsdecode(node.name))
    assert any(w.path == shown for w in reporter.warnings), reporter.warnings
