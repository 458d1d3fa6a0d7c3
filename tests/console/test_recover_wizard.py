"""Recover Data in Chromium against a real agent and a real local vault: a file recovered to
another folder with each conflict option (the files checked on disk), a target that cannot be
written refused in place, and another machine's file recovered with a vault credentials file and
its passphrase (a wrong passphrase and a file of another vault answered in place, in the CLI's
words)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from cairn.engine.credentials import VaultCredentials, write_file
from tests.cli.conftest import Cli
from tests.console.conftest import ConsoleAgent, shot
from tests.tmpfs import tmpfs

LAPTOP_PASSPHRASE = "the laptop's own passphrase"


@pytest.fixture(scope="module")
def backed_up(console_agent: ConsoleAgent) -> Path:
    data = console_agent.tmp / "data"
    (data / "docs").mkdir(parents=True)
    (data / "a.txt").write_text("a, as backed up")
    (data / "docs" / "b-report.txt").write_text("b, as backed up")
    console_agent.cli.run("backup", str(data))
    return data


def next_page(page: Page) -> None:
    page.get_by_role("button", name="Next", exact=True).click()


def to_options(page: Page, agent: ConsoleAgent, data: Path) -> None:
    """This machine, the latest point, data/a.txt ticked, on the options page."""
    page.goto(agent.url + "recover")
    page.get_by_label("This machine (consolebox)").check()
    next_page(page)
    expect(page.get_by_role("heading", name="2. Select the recovery point")).to_be_visible()
    next_page(page)
    page.get_by_role("button", name="Open data").click()
    page.get_by_label("a.txt").check()
    next_page(page)
    expect(page.get_by_role("heading", name="4. Recovery options")).to_be_visible()


def recover_to(page: Page, target: Path, conflict_label: str) -> None:
    page.get_by_label("Another location").check()
    page.get_by_label("Folder (each item lands").fill(str(target))
    page.get_by_label(conflict_label).check()
    next_page(page)
    expect(page.get_by_role("heading", name="5. Confirmation")).to_be_visible()
    page.get_by_role("button", name="Recover").click()
    expect(page.locator("#p-state")).to_have_text("completed", timeout=60_000)


def test_a_file_is_recovered_to_another_folder_with_each_conflict_option(
    console_agent: ConsoleAgent, backed_up: Path, console: Page
) -> None:
    target = console_agent.tmp / "recovered"
    landed = target / str(backed_up).lstrip("/") / "a.txt"
    landed.parent.mkdir(parents=True)
    landed.write_text("edited here since")
    to_options(console, console_agent, backed_up)
    recover_to(console, target, "Create copies")
    # The finished job says what the restore did (it said "Recovery point ... made." before).
    expect(console.locator("#p-result")).to_contain_text("Restored from recovery point")
    expect(console.locator("#p-result")).to_contain_text("copies beside existing files: 1")
    expect(console.locator("#p-result")).not_to_contain_text("made")
    shot(console, "recover-6-job")
    copies = [p for p in landed.parent.iterdir() if p.name.endswith("Copy of a.txt")]
    assert landed.read_text() == "edited here since"
    assert [p.read_text() for p in copies] == ["a, as backed up"]
    to_options(console, console_agent, backed_up)
    recover_to(console, target, "Do not recover the items that exist already")
    expect(console.locator("#p-result")).to_contain_text("skipped: 1")
    assert landed.read_text() == "edited here since"
    assert sorted(p.name for p in landed.parent.iterdir()) == sorted(["a.txt", copies[0].name])
    to_options(console, console_agent, backed_up)
    recover_to(console, target, "Overwrite the existing versions")
    assert landed.read_text() == "a, as backed up"
    assert not (landed.parent / "docs").exists()  # only what was ticked
    console_agent.cli.run("check")


def test_search_by_name_and_a_target_that_cannot_be_written(
    console_agent: ConsoleAgent, backed_up: Path, console: Page
) -> None:
    page = console
    page.goto(console_agent.url + "recover")
    shot(page, "recover-1-source")
    next_page(page)
    expect(page.locator("table.calendar td.point")).to_have_count(1)
    shot(page, "recover-2-point")
    next_page(page)
    page.get_by_label("Part of a file or folder name").fill("REPORT")
    page.get_by_role("button", name="Search", exact=True).click()
    found = page.locator("ul.found")
    expect(found).to_contain_text(f"{backed_up}/docs/b-report.txt")
    found.get_by_label(f"{backed_up}/docs/b-report.txt").check()
    page.get_by_role("button", name="Open data").click()  # the selection survives browsing
    shot(page, "recover-3-items")
    next_page(page)
    with tmpfs(console_agent.tmp / "read-only") as ro:
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
        page.get_by_label("Another location").check()
        page.get_by_label("Folder (each item lands").fill(str(ro / "here"))
        next_page(page)
        expect(page.get_by_role("alert")).to_have_text(
            f"the restore target {ro}/here cannot be written (read-only file system):"
            " choose another folder, or make it writable"
        )
        expect(page.get_by_label("Folder (each item lands")).to_have_value(str(ro / "here"))
        shot(page, "recover-4-options-error")
    target = console_agent.tmp / "found"
    page.get_by_label("Folder (each item lands").fill(str(target))
    page.get_by_label("Restore the permissions").uncheck()
    next_page(page)
    expect(page.locator("table.summary")).to_contain_text("this machine's defaults")
    shot(page, "recover-5-confirm")
    page.get_by_role("button", name="Recover").click()
    expect(page.locator("#p-state")).to_have_text("completed", timeout=60_000)
    restored = target / str(backed_up).lstrip("/") / "docs" / "b-report.txt"
    assert restored.read_text() == "b, as backed up"


def test_another_machines_file_is_recovered_with_its_credentials_and_passphrase(
    console_agent: ConsoleAgent, console: Page
) -> None:
    tmp = console_agent.tmp
    registration = json.loads((console_agent.cli.home / "registration.json").read_text())
    creds = tmp / "vault-credentials.json"
    write_file(creds, VaultCredentials(registration["vault"], registration["vault_id"], "t", {}))
    laptop = Cli(tmp / "laptop-home", env={"CAIRN_PASSPHRASE": LAPTOP_PASSPHRASE})
    laptop.run("register", "--vault-credentials", str(creds), "--machine", "laptop")
    own = tmp / "laptop-files"
    own.mkdir()
    (own / "thesis.txt").write_text("the laptop's thesis")
    laptop.run("backup", str(own))
    stranger = tmp / "stranger.json"
    write_file(stranger, VaultCredentials(registration["vault"], "cd" * 16, "t", {}))
    page = console
    page.goto(console_agent.url + "recover")
    page.get_by_label("Another machine in a vault").check()
    page.get_by_label("Vault credentials file").fill(str(stranger))
    page.get_by_role("button", name="List its machines").click()
    expect(page.get_by_role("alert")).to_contain_text(
        f"{stranger} is for vault {'cd' * 16}, but the vault at"
    )
    page.get_by_label("Vault credentials file").fill(str(creds))
    page.get_by_role("button", name="List its machines").click()
    page.get_by_label("Machine", exact=True).select_option("laptop")
    page.get_by_label("That machine's passphrase").fill("not the laptop's passphrase")
    next_page(page)
    expect(page.get_by_role("alert")).to_have_text(
        "wrong passphrase for machine 'laptop': it opens none of its 1 key(s). Give the passphrase"
        " set when this machine registered (CAIRN_PASSPHRASE, --passphrase-file or the prompt)"
    )
    expect(page.get_by_label("Vault credentials file")).to_have_value(str(creds))
    shot(page, "recover-1-another-machine-error")
    page.get_by_label("That machine's passphrase").fill(LAPTOP_PASSPHRASE)
    next_page(page)
    expect(page.get_by_text("Recovering from machine laptop (another machine)")).to_be_visible()
    next_page(page)
    page.get_by_role("button", name="Open laptop-files").click()
    page.get_by_label("thesis.txt").check()
    next_page(page)
    target = tmp / "from-laptop"
    recover_to(page, target, "Create copies")
    assert (target / str(own).lstrip("/") / "thesis.txt").read_text() == "the laptop's thesis"
    job = console_agent.cli.run("jobs", "--json", "--last", "1").stdout
    assert LAPTOP_PASSPHRASE not in job and LAPTOP_PASSPHRASE not in (
        console_agent.cli.home / "jobs.sqlite"
    ).read_bytes().decode("latin-1")
