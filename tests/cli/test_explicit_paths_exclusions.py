"""`cairn backup PATH ...` with a policy set leaves out what the policy's exclusions name, as a user
expects (before, a `*.tmp` the policy excludes was stored when its folder was named)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import Cli

POLICY = """
[policy]
items = ["{items}"]
exclude = ["*.tmp", "cache"]
timezone = "UTC"

[schedule]
frequency = "daily"
times = ["21:00"]

[retention.daily]
days = 7
"""


def test_policy_exclusions_apply_to_explicit_paths(registered: Cli, tmp_path: Path) -> None:
    src = tmp_path / "docs"
    (src / "cache").mkdir(parents=True)
    (src / "report.txt").write_text("keep\n")
    (src / "scratch.tmp").write_text("leave out\n")
    (src / "cache" / "blob").write_text("leave out\n")
    (src / "notes.bak").write_text("left out by the command's own pattern\n")
    (tmp_path / "policy.toml").write_text(POLICY.format(items=tmp_path))
    registered.run("policy", "set", "--file", str(tmp_path / "policy.toml"))

    registered.run("backup", str(src), "--exclude", "*.bak")
    lines = registered.run("ls", "latest", str(src), "--json").stdout.splitlines()
    names = sorted(Path(json.loads(line)["path"]).name for line in lines)
    assert names == ["report.txt"]
    [point] = json.loads(registered.run("recovery-points", "--json").stdout)
    assert point["paths"] == [str(src)]
    registered.run("check", "--read-data")
