"""Every control on every page of the Schedule Backup and Recover Data wizards has a label."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.console.conftest import ConsoleAgent
from tests.console.test_labels import UNLABELLED


def _next(page: Page, heading: str) -> None:
    page.get_by_role("button", name="Next", exact=True).click()
    expect(page.get_by_role("heading", name=heading)).to_be_visible()


def test_every_wizard_page_labels_every_control(console_agent: ConsoleAgent, console: Page) -> None:
    data = console_agent.tmp / "labelled"
    (data / "inner").mkdir(parents=True)
    (data / "inner" / "f.txt").write_text("f")
    console_agent.cli.run("backup", str(data))
    page = console
    page.goto(console_agent.url + "schedule")
    for heading in ("2. Exclusion settings", "3. Backup schedule", "4. Retention policy",
                    "5. Initial backup type", "6. Confirmation"):  # fmt: skip
        assert page.evaluate(UNLABELLED) == [], page.url
        _next(page, heading)
    assert page.evaluate(UNLABELLED) == []
    page.goto(console_agent.url + "recover")
    for heading in ("2. Select the recovery point", "3. Select items to recover"):
        assert page.evaluate(UNLABELLED) == []
        _next(page, heading)
    page.get_by_role("button", name="Open labelled").click()
    page.get_by_label("Part of a file or folder name").fill("f.txt")
    page.get_by_role("button", name="Search", exact=True).click()
    assert page.evaluate(UNLABELLED) == []
    page.get_by_role("checkbox", name="inner/", exact=True).check()
    for heading in ("4. Recovery options", "5. Confirmation"):
        _next(page, heading)
        assert page.evaluate(UNLABELLED) == []
