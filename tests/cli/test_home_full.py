"""A full CAIRN_HOME: every write there is whole or not at all, and says which place is full."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.tmpfs import PAGE, fill, tmpfs

POLICY = """
[policy]
items = ["{src}"]
exclude = [{exclude}]
timezone = "UTC"

[schedule]
frequency = "daily"
times = ["21:00"]

[retention.daily]
days = 30
"""


@pytest.fixture
def small_home(tmp_path: Path) -> Iterator[Cli]:
    with tmpfs(tmp_path / "home", size="1m") as home:
        cli = Cli(home)
        cli.run("vault", "create", str(tmp_path / "vault"))
        cli.run("register", str(tmp_path / "vault"), "--machine", "fullbox")
        yield cli


def policy_file(tmp_path: Path, name: str, patterns: int) -> Path:
    exclude = ", ".join(f'"pattern-number-{i:05d}-*.tmp"' for i in range(patterns))
    f = tmp_path / name
    f.write_text(POLICY.replace("{src}", str(tmp_path)).replace("{exclude}", exclude))
    return f


def test_policy_set_on_a_full_home_exits_13_and_keeps_the_old_policy(
    small_home: Cli, tmp_path: Path
) -> None:
    small_home.run("policy", "set", "--file", str(policy_file(tmp_path, "small.toml", 1)))
    old = (small_home.home / "policy.json").read_bytes()
    assert json.loads(old)["policy"]["exclude"] == ["pattern-number-00000-*.tmp"]
    fill(small_home.home, leave_bytes=PAGE)  # room for part of the new policy, not all of it
    big = policy_file(tmp_path, "big.toml", 400)  # about 16 KB of JSON
    proc = small_home.run("policy", "set", "--file", str(big), expect=13)
    assert "CAIRN_HOME" in proc.stderr and str(small_home.home) in proc.stderr
    assert (small_home.home / "policy.json").read_bytes() == old
    assert not [p.name for p in small_home.home.iterdir() if p.name.endswith(".tmp")]
    shown = json.loads(small_home.run("policy", "show", "--json").stdout)
    assert shown["policy"]["exclude"] == ["pattern-number-00000-*.tmp"]


def test_throttle_set_on_a_full_home_exits_13(small_home: Cli, tmp_path: Path) -> None:
    fill(small_home.home)
    proc = small_home.run(
        "throttle",
        "set",
        "--work-hours",
        "09:00-17:00",
        "--work-days",
        "mon-fri",
        "--work-rate",
        "1Mbps",
        "--other-rate",
        "10Mbps",
        expect=13,
    )
    assert "CAIRN_HOME" in proc.stderr
    assert not (small_home.home / "throttle.json").exists()


def test_the_temp_file_of_a_killed_write_is_removed_by_the_next_write(
    small_home: Cli, tmp_path: Path
) -> None:
    leftover = small_home.home / ".policy.json.999999999.abcd.tmp"  # no such pid runs
    leftover.write_text("half")
    small_home.run("policy", "set", "--file", str(policy_file(tmp_path, "small.toml", 1)))
    assert not leftover.exists()
