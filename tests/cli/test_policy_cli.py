"""`cairn policy ...`, a policy-driven backup, and `cairn prune` through the real command."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from pathlib import Path

from tests.cli.conftest import Cli

SEED_POLICY = """
[policy]
items = ["{src}"]
exclude = ["*.tmp"]
timezone = "Europe/Berlin"

[schedule]
frequency = "daily"
times = ["00:00", "18:00"]

[retention.daily]
days = 7

[retention.weekly]
days_of_week = ["sat"]
weeks = 4

[retention.monthly]
weeks_of_month = ["last"]
days_of_week = ["sat"]
months = 12

[retention.yearly]
months_of_year = ["mar"]
weeks_of_month = ["last"]
days_of_week = ["sat"]
years = 10
"""


def write_policy(tmp_path: Path, src: Path, text: str = SEED_POLICY) -> Path:
    f = tmp_path / "policy.toml"
    f.write_text(text.replace("{src}", str(src)))
    return f


def test_policy_set_show_and_a_plain_backup_of_its_items(registered: Cli, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "keep.txt").write_text("keep")
    (src / "skip.tmp").write_text("skip")
    registered.run("policy", "set", "--file", str(write_policy(tmp_path, src)))
    shown = json.loads(registered.run("policy", "show", "--json").stdout)
    assert shown["policy"]["items"] == [str(src)]
    assert shown["policy"]["timezone"] == "Europe/Berlin"
    assert shown["schedule"]["times"] == ["00:00", "18:00"]
    assert shown["retention"]["yearly"]["years"] == 10
    out = json.loads(registered.run("backup", "--json").stdout)
    assert out["paths"] == [str(src)]
    listing = registered.run("ls", "latest", str(src)).stdout
    assert "keep.txt" in listing and "skip.tmp" not in listing


def test_a_policy_outside_the_limits_exits_2_naming_the_field(
    registered: Cli, tmp_path: Path
) -> None:
    bad = write_policy(tmp_path, tmp_path, SEED_POLICY.replace("days = 7", "days = 6"))
    proc = registered.run("policy", "set", "--file", str(bad), expect=2)
    assert "retention.daily.days" in proc.stderr and "7" in proc.stderr and "9999" in proc.stderr
    four = SEED_POLICY.replace('["00:00", "18:00"]', '["00:00", "06:00", "12:00", "18:00"]')
    proc = registered.run(
        "policy", "set", "--file", str(write_policy(tmp_path, tmp_path, four)), expect=2
    )
    assert "schedule.times" in proc.stderr
    offline = SEED_POLICY.replace(
        'timezone = "Europe/Berlin"', 'timezone = "Europe/Berlin"\ninitial_backup = "offline"'
    )
    proc = registered.run(
        "policy", "set", "--file", str(write_policy(tmp_path, tmp_path, offline)), expect=2
    )
    assert "offline" in proc.stderr
    pattern = SEED_POLICY.replace('exclude = ["*.tmp"]', 'exclude = ["[oops"]')
    proc = registered.run(
        "policy", "set", "--file", str(write_policy(tmp_path, tmp_path, pattern)), expect=2
    )
    assert "[oops" in proc.stderr
    registered.run("policy", "show", expect=2)  # nothing was set


def test_next_runs_cross_the_spring_forward_gap(registered: Cli, tmp_path: Path) -> None:
    text = SEED_POLICY.replace('["00:00", "18:00"]', '["02:30"]')
    f = write_policy(tmp_path, tmp_path, text)
    out = json.loads(
        registered.run(
            "policy",
            "next-runs",
            "--file",
            str(f),
            "--from",
            "2027-03-27T12:00",
            "--count",
            "3",
            "--json",
        ).stdout
    )
    # 2027-03-28 has no 02:30 in Berlin: the run is at the first valid instant, 03:00 (+02:00).
    assert out == [
        "2027-03-28T03:00:00+02:00",
        "2027-03-29T02:30:00+02:00",
        "2027-03-30T02:30:00+02:00",
    ]
    assert all(datetime.fromisoformat(t).utcoffset() is not None for t in out)


def test_simulate_prints_the_points_alive_and_substitutes_a_failed_saturday(
    registered: Cli, tmp_path: Path
) -> None:
    f = write_policy(tmp_path, tmp_path)
    out = json.loads(
        registered.run(
            "policy",
            "simulate",
            "--file",
            str(f),
            "--from",
            "2026-01-01T00:00",
            "--until",
            "2026-03-01T00:00",
            "--fail",
            "2026-02-28T00:00",
            "--on-demand",
            "2026-02-28T10:00",
            "--json",
        ).stdout
    )
    assert {"time", "trigger", "rules", "expires"} <= set(out[0])
    on_demand = [p for p in out if p["trigger"] == "on-demand"]
    assert len(on_demand) == 1
    assert {"weekly", "monthly"} <= set(on_demand[0]["rules"])
    assert on_demand[0]["expires"].startswith("2027-02-28T10:00")
    text = registered.run(
        "policy",
        "simulate",
        "--file",
        str(f),
        "--from",
        "2026-01-01T00:00",
        "--until",
        "2026-03-01T00:00",
    ).stdout
    assert "recovery point(s) alive" in text and "peak" in text
    registered.run(
        "policy",
        "simulate",
        "--file",
        str(f),
        "--from",
        "someday",
        "--until",
        "2026-03-01T00:00",
        expect=2,
    )


def test_prune_without_a_policy_expires_nothing(registered: Cli, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a").write_text("a")
    registered.run("backup", str(src))
    out = json.loads(registered.run("prune", "--dry-run", "--json").stdout)
    assert out["points_deleted"] == [] and out["points_kept"] == 1 and out["dry_run"] is True
    registered.run("prune")
    registered.run("check", "--read-data")


def test_prune_removes_what_a_killed_write_left_and_says_so(
    registered: Cli, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a").write_text("a")
    registered.run("backup", str(src))
    leftover = tmp_path / "vault" / "machines" / ".tmp-00112233aabbccdd"
    leftover.write_bytes(b"z" * 2048)
    two_hours_ago = time.time() - 7200
    os.utime(leftover, (two_hours_ago, two_hours_ago))
    out = json.loads(registered.run("prune", "--json").stdout)
    assert (out["temp_files_removed"], out["temp_bytes_removed"]) == (1, 2048)
    assert not leftover.exists()
    leftover.write_bytes(b"z" * 10)
    os.utime(leftover, (two_hours_ago, two_hours_ago))
    text = registered.run("prune").stdout
    assert "removed 1 temp file(s)" in text and "never finished" in text
    registered.run("check", "--read-data")


def test_policy_set_with_flags_for_the_common_case(registered: Cli, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    registered.run(
        "policy",
        "set",
        "--item",
        str(src),
        "--exclude",
        "*.tmp",
        "--daily",
        "21:00",
        "--keep-days",
        "30",
        "--keep-weeks",
        "12",
        "--weekly-on",
        "sun",
        "--timezone",
        "America/New_York",
    )
    shown = json.loads(registered.run("policy", "show", "--json").stdout)
    assert shown["schedule"] == {"frequency": "daily", "times": ["21:00"]} or (
        shown["schedule"]["frequency"] == "daily" and shown["schedule"]["times"] == ["21:00"]
    )
    assert shown["retention"]["daily"]["days"] == 30
    assert shown["retention"]["weekly"]["weeks"] == 12
    assert shown["retention"]["weekly"]["days_of_week"] == ["sun"]
    assert shown["policy"]["timezone"] == "America/New_York"
    proc = registered.run(
        "policy", "set", "--item", str(src), "--daily", "21:00", "--keep-days", "3", expect=2
    )
    assert "retention.daily.days" in proc.stderr
    registered.run("policy", "set", "--daily", "21:00", "--keep-days", "7", expect=2)
