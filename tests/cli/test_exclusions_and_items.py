"""An item that an exclusion matches, itself or by a folder above it, is backed up whole (a named
item wins), the exclusion still applies inside it, and both `policy set` and `backup` say so.
Before, `--exclude obs` emptied a backup of `/x/obs/y` without a word."""

from __future__ import annotations

import json
from pathlib import Path

from cairn.core.errors import EXIT_WARNINGS
from tests.cli.conftest import Cli

POLICY = """
[policy]
items = [{items}]
exclude = [{excludes}]
timezone = "UTC"

[schedule]
frequency = "daily"
times = ["21:00"]

[retention.daily]
days = 7
"""


def make_tree(root: Path) -> Path:
    item = root / "obs" / "y"
    (item / "deep").mkdir(parents=True)
    (item / "a.txt").write_text("a\n")
    (item / "deep" / "b.txt").write_text("b\n")
    (item / "scratch.tmp").write_text("inside: still left out by *.tmp\n")
    (item / "obs").mkdir()  # the item is whole: `obs` does not apply inside it
    (item / "obs" / "c.txt").write_text("c\n")
    return item


def names_in(cli: Cli, path: Path) -> list[str]:
    lines = cli.run("ls", "latest", str(path), "--json").stdout.splitlines()
    return sorted(str(Path(json.loads(line)["path"]).relative_to(path)) for line in lines)


def test_an_exclusion_matching_a_folder_above_an_item_does_not_empty_it(
    registered: Cli, tmp_path: Path
) -> None:
    item = make_tree(tmp_path)

    proc = registered.run(
        "backup", str(item), "--exclude", "obs", "--exclude", "*.tmp", expect=EXIT_WARNINGS
    )

    assert names_in(registered, item) == ["a.txt", "deep", "deep/b.txt", "obs", "obs/c.txt"]
    assert f"the exclusion 'obs' matches {tmp_path / 'obs'}, a folder above it" in proc.stderr
    assert "the item is backed up whole" in proc.stderr
    assert "'*.tmp'" not in proc.stderr  # it matches nothing at or above the item
    registered.run("check", "--read-data")


def test_an_item_that_an_exclusion_matches_itself_is_backed_up(
    registered: Cli, tmp_path: Path
) -> None:
    item = tmp_path / "keep.tmp"
    item.write_text("named, so kept\n")
    (tmp_path / "other.tmp").write_text("not named\n")

    proc = registered.run("backup", str(item), "--exclude", "*.tmp", expect=EXIT_WARNINGS)

    assert "the exclusion '*.tmp' matches the item itself" in proc.stderr
    target = tmp_path / "r"
    registered.run("restore", "latest", "--target", str(target))
    assert (target / item.relative_to("/")).read_text() == "named, so kept\n"
    assert not (target / (tmp_path / "other.tmp").relative_to("/")).exists()
    registered.run("check", "--read-data")


def test_an_exclusion_that_matches_one_item_still_applies_in_the_others(
    registered: Cli, tmp_path: Path
) -> None:
    item = make_tree(tmp_path)
    side = tmp_path / "side"
    (side / "obs").mkdir(parents=True)
    (side / "obs" / "left-out.txt").write_text("z\n")
    (side / "kept.txt").write_text("k\n")

    registered.run("backup", str(item), str(side), "--exclude", "obs", expect=EXIT_WARNINGS)

    assert "obs/c.txt" in names_in(registered, item)
    assert names_in(registered, side) == ["kept.txt"]


def test_an_anchored_double_star_above_an_item_does_not_empty_it(
    registered: Cli, tmp_path: Path
) -> None:
    item = make_tree(tmp_path)

    proc = registered.run(
        "backup", str(item), "--exclude", f"{tmp_path}/obs/**", expect=EXIT_WARNINGS
    )

    assert names_in(registered, item) == [
        "a.txt",
        "deep",
        "deep/b.txt",
        "obs",
        "obs/c.txt",
        "scratch.tmp",
    ]
    assert "matches the item itself" in proc.stderr


def test_policy_set_warns_about_an_item_an_exclusion_matches(
    registered: Cli, tmp_path: Path
) -> None:
    item = make_tree(tmp_path)
    other = tmp_path / "plain"
    other.mkdir()
    policy = tmp_path / "policy.toml"
    policy.write_text(
        POLICY.format(items=f'"{item}", "{other}"', excludes='"obs", "*.tmp", "/nowhere"')
    )

    proc = registered.run("policy", "set", "--file", str(policy))

    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning: {item}: the exclusion 'obs' matches {tmp_path / 'obs'}, a folder above it:"
        " the item is backed up whole (a named item wins), and the exclusion does not apply"
        " inside it"
    ]


def test_no_warning_when_no_exclusion_touches_an_item(registered: Cli, tmp_path: Path) -> None:
    item = make_tree(tmp_path)

    proc = registered.run("backup", str(item), "--exclude", "*.tmp")

    assert "warning" not in proc.stderr
    assert "scratch.tmp" not in names_in(registered, item)
