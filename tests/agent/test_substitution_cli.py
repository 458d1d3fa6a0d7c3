"""Back Up Now in the CLI's own process (no agent) applies the substitution rule too, from the slot
outcomes the agent recorded in CAIRN_HOME: the first on-demand backup of the policy's items after a
failed weekly slot takes its place; one of other paths, or a later one, does not."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cairn.agent.jobstore import JobStore
from tests.cli.conftest import Cli

POLICY = """
[policy]
items = ["{src}"]
timezone = "UTC"
start = {today}

[schedule]
frequency = "daily"
times = ["{time}"]

[retention.daily]
days = 7

[retention.weekly]
days_of_week = ["{weekday}"]
weeks = 4
"""


def test_back_up_now_in_process_takes_a_failed_slots_place(registered: Cli, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    if now.hour == 0 and now.minute < 2:  # the slot must be earlier today
        time.sleep(125)
        now = datetime.now(UTC)
    slot_time = (now - timedelta(minutes=1)).replace(second=0, microsecond=0)
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a\n")
    policy = tmp_path / "policy.toml"
    policy.write_text(
        POLICY.format(
            src=src,
            today=slot_time.date().isoformat(),
            time=slot_time.strftime("%H:%M"),
            weekday=slot_time.strftime("%a").lower(),
        )
    )
    registered.run("policy", "set", "--file", str(policy))
    slot = f"{slot_time:%Y-%m-%dT%H:%M}[UTC]"
    store = JobStore.in_home(registered.home)
    store.record_slot(slot, slot_time, "failed")
    store.close()

    registered.run("backup", str(src / "a.txt"))  # other paths: no substitution
    registered.run("backup")  # the policy's items: takes the failed slot's place
    registered.run("backup")  # a second one does not
    points = json.loads(registered.run("recovery-points", "--json").stdout)
    assert [p["substitutes"] for p in points] == [None, slot, None]
    registered.run("check")
