"""Every control on the console's pages has a label (a screen reader names it; a keyboard user
reaches it), and the nav works from the keyboard alone."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.console.conftest import ConsoleAgent

UNLABELLED = """() => Array.from(document.querySelectorAll(
    'input:not([type=hidden]), select, textarea, button'))
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !(el.tagName === 'BUTTON' && el.textContent.trim()))
  .map(el => el.outerHTML)"""

PAGES = ["", "backup", "jobs", "properties", "properties?tab=machine"]


def test_every_control_has_a_label(console_agent: ConsoleAgent, console: Page) -> None:
    for path in PAGES:
        console.goto(console_agent.url + path)
        assert console.evaluate(UNLABELLED) == [], path


def test_the_nav_works_from_the_keyboard(console_agent: ConsoleAgent, console: Page) -> None:
    for _ in range(20):
        console.keyboard.press("Tab")
        if console.evaluate("document.activeElement.textContent.trim()") == "Jobs":
            break
    console.keyboard.press("Enter")
    expect(console).to_have_url(console_agent.url + "jobs")
    expect(console.get_by_role("heading", name="Jobs")).to_be_visible()
