"""Back Up Now in the browser against a real agent: a retain-till date, the confirmation, live
progress to completion (the job goes on when the page is left), a bad date refused in place, and
a running job cancelled from its page."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.agent.conftest import wait_for
from tests.console.conftest import ConsoleAgent, shot


@pytest.fixture(scope="module", autouse=True)
def policy(console_agent: ConsoleAgent) -> Path:
    items = console_agent.tmp / "documents"
    items.mkdir()
    for i in range(30):
        (items / f"letter{i}.txt").write_text(f"dear reader {i}\n" * 200)
    console_agent.cli.run(
        "policy",
        "set",
        "--item",
        str(items),
        "--daily",
        "21:00",
        "--keep-days",
        "7",
        "--timezone",
        "UTC",
    )
    return items


def points(agent: ConsoleAgent) -> list[dict[str, object]]:
    return list(json.loads(agent.cli.run("recovery-points", "--json").stdout))


def test_back_up_now_with_a_retain_till_date(console_agent: ConsoleAgent, console: Page) -> None:
    until = (datetime.now(UTC).date() + timedelta(days=45)).isoformat()
    console.get_by_role("navigation", name="Actions").get_by_role(
        "link", name="Back Up Now"
    ).click()
    console.get_by_label("Retain till").fill(until)
    shot(console, "back-up-now")
    console.get_by_role("button", name="Next").click()
    expect(console.locator("#kept")).to_contain_text(f"kept through {until}")
    shot(console, "back-up-now-confirm")
    console.get_by_role("button", name="Back Up").click()
    expect(console.locator("#background")).to_contain_text("continues in the background")
    expect(console.locator("#p-state")).to_have_text("completed", timeout=60_000)
    expect(console.locator("#p-files")).to_contain_text("30")
    expect(console.locator("#p-result")).to_contain_text("Recovery point")
    made = points(console_agent)
    assert [p["retain_until"] for p in made] == [until]
    console_agent.cli.run("check", "--read-data")


def test_leaving_the_page_leaves_the_backup_running(
    console_agent: ConsoleAgent, console: Page
) -> None:
    before = len(points(console_agent))
    console.goto(console_agent.url + "backup")
    console.get_by_role("button", name="Next").click()
    expect(console.locator("#kept")).to_contain_text("as the backup policy says")
    console.get_by_role("button", name="Back Up").click()
    job_id = console.url.rsplit("/", 1)[1].split("?")[0]
    console.close()  # the page goes away at once
    client = console_agent.process.client
    done = wait_for(lambda: (j := client.job(job_id)).done and j, timeout=60)
    assert done.state == "completed" and done.params.get("retain_until") is None
    assert len(points(console_agent)) == before + 1


def test_a_retain_till_date_already_over_is_refused_in_place(
    console_agent: ConsoleAgent, console: Page
) -> None:
    yesterday = (date.today() - timedelta(days=2)).isoformat()
    console.goto(console_agent.url + "backup")
    console.get_by_label("Retain till").fill(yesterday)
    console.get_by_role("button", name="Next").click()
    error = console.locator("#retain_error")
    expect(error).to_contain_text(f"Retain till {yesterday} is over already in UTC")
    expect(error).to_contain_text("the earliest allowed date is")
    expect(console.get_by_label("Retain till")).to_have_value(yesterday)  # nothing lost


def test_cancel_a_running_job(console_agent: ConsoleAgent, console: Page) -> None:
    # Many sparse files (the engine counts bytes as each file is done): seconds of work, no disk.
    big = console_agent.tmp / "big"
    big.mkdir()
    for i in range(400):
        with (big / f"disk{i:03}.img").open("wb") as f:
            f.truncate(64 << 20)
    out = console_agent.cli.run("backup", "--detach", "--json", str(big)).stdout
    job_id = json.loads(out)["id"]
    console.goto(console_agent.url + f"jobs/{job_id}")
    expect(console.locator("#p-state")).to_have_text("running", timeout=30_000)
    first = console.locator("#p-bytes").inner_text()
    expect(console.locator("#p-bytes")).not_to_have_text(first, timeout=30_000)  # live, over SSE
    expect(console.locator("#p-bytes")).not_to_have_text(re.compile(r"^0 B"))
    shot(console, "job-progress")
    console.get_by_role("button", name="Cancel job").click()
    expect(console.locator("#p-state")).to_have_text("cancelled", timeout=60_000)
    assert console_agent.process.client.job(job_id).state == "cancelled"
    console_agent.cli.run("check")


def test_the_dashboard_shows_the_backups(console_agent: ConsoleAgent, console: Page) -> None:
    made = points(console_agent)
    expect(console.locator("#point-count")).to_have_text(str(len(made)))
    expect(console.locator("#newest-point")).to_contain_text(str(made[-1]["id"])[:8])
    expect(console.locator("#next-backup")).to_contain_text("21:00:00")
    expect(console.locator("#last-jobs")).to_contain_text("cancelled")  # the last backup job
    expect(console.locator("#vault-bytes")).not_to_have_text("0 B")
    today = datetime.now(UTC).date()
    expect(
        console.locator(f'#calendar .has-points[data-day="{today.isoformat()}"]')
    ).to_have_attribute("title", f"{len(made)} recovery point(s)")
    expect(console.locator("#calendar .has-points")).to_have_count(1)  # only today is bold
    expect(console.locator("#history svg polyline")).to_have_count(2)
    shot(console, "dashboard")
    console.get_by_role("link", name="Previous month").click()
    expect(console.locator("#calendar .has-points")).to_have_count(0)
