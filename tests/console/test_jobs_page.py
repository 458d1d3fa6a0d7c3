"""The Jobs page against a real agent whose history holds jobs written beside it: filters by kind,
status and time, pages of 50 (never the whole history), details with per-file warnings, CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from cairn.agent.jobstore import JobStore
from tests.console.conftest import ConsoleAgent, shot

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module", autouse=True)
def history(console_agent: ConsoleAgent) -> dict[str, str]:
    """120 prune jobs on days from March 1st, 7 failed check jobs, one backup with warnings."""
    store = JobStore.in_home(console_agent.cli.home)
    ids = {}
    try:
        for i in range(120):
            at = START + timedelta(hours=12 * i)
            job = store.create("prune", "scheduled", at, state="running")
            store.finish(job.id, "completed", at + timedelta(seconds=5))
        for i in range(7):
            at = START + timedelta(days=3 * i, hours=1)
            job = store.create("check", "scheduled", at, state="running")
            store.finish(job.id, "failed", at + timedelta(minutes=1), error="pack 0a1b missing")
        at = START + timedelta(days=70)
        job = store.create("backup", "on-demand", at, state="running")
        store.add_warnings(
            job.id,
            [
                {"path": "/home/ann/locked.db", "message": "permission denied"},
                {"path": "/home/ann/log.txt", "message": "changed while it was read"},
            ],
        )
        store.finish(job.id, "completed-with-warnings", at + timedelta(minutes=2), exit_code=3)
        ids["warned"] = job.id
    finally:
        store.close()
    return ids


def test_the_history_is_paged(console_agent: ConsoleAgent, console: Page) -> None:
    console.get_by_role("navigation", name="Actions").get_by_role("link", name="Jobs").click()
    expect(console.locator("#count")).to_have_text("Jobs 1-50 of 128, newest first.")
    shot(console, "jobs")
    expect(console.locator("#jobs tbody tr")).to_have_count(50)
    console.get_by_role("link", name="Older").click()
    expect(console.locator("#count")).to_have_text("Jobs 51-100 of 128, newest first.")
    console.get_by_role("link", name="Older").click()
    expect(console.locator("#jobs tbody tr")).to_have_count(28)
    expect(console.get_by_role("link", name="Older")).to_have_count(0)
    console.get_by_role("link", name="Newer").click()
    expect(console.locator("#count")).to_contain_text("Jobs 51-100")


def test_filters_by_kind_status_and_time(console_agent: ConsoleAgent, console: Page) -> None:
    console.goto(console_agent.url + "jobs")
    console.get_by_label("Kind").select_option("check")
    console.get_by_label("Status").select_option("failed")
    console.get_by_role("button", name="Show").click()
    expect(console.locator("#count")).to_have_text("Jobs 1-7 of 7, newest first.")
    expect(console.locator("#jobs")).to_contain_text("pack 0a1b missing")
    console.get_by_label("Kind").select_option("prune")
    console.get_by_label("Status").select_option("")
    console.get_by_label("From").fill("2026-03-02")
    console.get_by_label("To").fill("2026-03-03")
    console.get_by_role("button", name="Show").click()
    expect(console.locator("#count")).to_have_text("Jobs 1-4 of 4, newest first.")
    console.get_by_label("To").fill("2026-02-01")
    console.get_by_role("button", name="Show").click()
    expect(console.get_by_role("alert")).to_have_text(
        "the end of the time range must come after its start"
    )


def test_details_show_each_files_warning(
    console_agent: ConsoleAgent, console: Page, history: dict[str, str]
) -> None:
    console.goto(console_agent.url + "jobs?kind=backup")
    console.get_by_role("link", name=history["warned"][:8]).click()
    expect(console.locator("#p-state")).to_have_text("completed-with-warnings")
    rows = console.locator("#warnings tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("/home/ann/locked.db")
    expect(rows.nth(0)).to_contain_text("permission denied")
    expect(console.get_by_role("button", name="Cancel job")).to_have_count(0)
    shot(console, "job-details")


def test_export_csv_of_the_filter(console_agent: ConsoleAgent, console: Page) -> None:
    console.goto(console_agent.url + "jobs?kind=check&state=failed")
    with console.expect_download() as download:
        console.get_by_role("link", name="Export CSV").click()
    path = download.value.path()
    rows = list(csv.reader(io.StringIO(path.read_text())))
    assert rows[0][:4] == ["id", "kind", "trigger", "state"]
    assert len(rows) == 8 and {r[1] for r in rows[1:]} == {"check"}
    assert {r[-1] for r in rows[1:]} == {"pack 0a1b missing"}


def test_scheduled_backups_passed_without_a_point_make_the_stale_warning(
    console_agent: ConsoleAgent, console: Page
) -> None:
    """The dashboard shows the health `cairn status` assesses (engine/health.py): a machine that
    registered three days ago whose daily slots all passed without a recovery point is stale."""
    now = datetime.now(UTC)
    src = console_agent.tmp / "stale-src"
    src.mkdir()
    (src / "a.txt").write_text("a\n")
    times = [(now - timedelta(hours=h)).strftime("%H:%M") for h in (3, 2)]
    policy = console_agent.tmp / "stale-policy.toml"
    policy.write_text(
        f'[policy]\nitems = ["{src}"]\ntimezone = "UTC"\n'
        f"start = {(now - timedelta(days=3)).date().isoformat()}\n"
        f'[schedule]\nfrequency = "daily"\ntimes = {json.dumps(sorted(times))}\n'
        "[retention.daily]\ndays = 7\n"
    )
    console_agent.cli.run("policy", "set", "--file", str(policy))
    registration = console_agent.cli.home / "registration.json"
    doc = json.loads(registration.read_text())
    doc["registered"] = (now - timedelta(days=3)).isoformat()
    registration.write_text(json.dumps(doc))
    console.reload()
    expect(console.locator("#stale")).to_contain_text("stale:")
    expect(console.locator("#stale")).to_contain_text(
        "scheduled backups passed without a recovery point"
    )
    out = console_agent.cli.run("agent", "status").stdout
    assert "scheduled backups passed without a recovery point" in out


def test_the_cli_filters_by_kind_as_the_page_does(console_agent: ConsoleAgent) -> None:
    shown = json.loads(console_agent.cli.run("jobs", "--kind", "check", "--json").stdout)
    assert len(shown) == 7 and {j["kind"] for j in shown} == {"check"}
    out = console_agent.tmp / "checks.csv"
    console_agent.cli.run("jobs", "export", "--csv", str(out), "--kind", "prune", "--last", "60")
    rows = list(csv.reader(io.StringIO(out.read_text())))
    assert len(rows) == 61 and {r[1] for r in rows[1:]} == {"prune"}
