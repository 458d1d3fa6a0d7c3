"""Change Properties in the browser against a real agent: the throttling tab sets what
`cairn throttle show` reads, refuses rates outside 512 Kbps-1023 Mbps in the CLI's words beside
the field (keeping what was typed), and turns throttling off; the machine tab."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from tests.console.conftest import ConsoleAgent, shot


def shown(agent: ConsoleAgent) -> dict[str, object]:
    return dict(json.loads(agent.cli.run("throttle", "show", "--json").stdout))


def test_change_throttling(console_agent: ConsoleAgent, console: Page) -> None:
    console.get_by_role("link", name="Change Properties").click()
    console.get_by_label("Enable internet bandwidth usage throttling").check()
    console.get_by_label("Start time").fill("08:30")
    console.get_by_label("End time").fill("17:00")
    for day in ("Mon", "Tue", "Wed", "Thu", "Fri"):
        console.get_by_label(day, exact=True).uncheck()
    for day in ("Mon", "Wed", "Fri"):
        console.get_by_label(day, exact=True).check()
    console.get_by_label("Work hours bandwidth usage", exact=True).fill("768")
    console.get_by_label("Work hours rate unit", exact=True).select_option("Kbps")
    console.get_by_label("Non-work hours bandwidth usage").fill("50")
    console.get_by_label("Time zone of the work hours").fill("Europe/Berlin")
    console.get_by_role("button", name="Save").click()
    expect(console.locator("#saved")).to_contain_text("Throttling saved")
    shot(console, "change-properties")
    doc = shown(console_agent)
    assert doc["enabled"] is True
    assert (doc["work_hours"], doc["work_days"], doc["timezone"]) == (
        "08:30-17:00",
        ["mon", "wed", "fri"],
        "Europe/Berlin",
    )
    assert (doc["work_rate_bps"], doc["other_rate_bps"]) == (768_000, 50_000_000)
    # the page shows what is stored
    expect(console.get_by_label("Work hours bandwidth usage", exact=True)).to_have_value("768")
    expect(console.get_by_label("Tue", exact=True)).not_to_be_checked()


def test_a_rate_outside_the_range_is_refused_in_place(
    console_agent: ConsoleAgent, console: Page
) -> None:
    before = shown(console_agent)
    console.goto(console_agent.url + "properties")
    console.get_by_label("Enable internet bandwidth usage throttling").check()
    console.get_by_label("Work hours bandwidth usage", exact=True).fill("100")
    console.get_by_label("Work hours rate unit", exact=True).select_option("Kbps")
    console.get_by_label("Start time").fill("07:00")
    console.get_by_role("button", name="Save").click()
    expect(console.locator("#work_rate_error")).to_have_text(
        "--work-rate: 100Kbps is out of range; allowed: 512Kbps to 1023Mbps"
    )
    expect(console.get_by_label("Work hours bandwidth usage", exact=True)).to_have_value("100")
    expect(console.get_by_label("Start time")).to_have_value("07:00")  # nothing typed is lost
    shot(console, "change-properties-refused")
    console.get_by_label("Non-work hours bandwidth usage").fill("2000")
    console.get_by_label("Work hours bandwidth usage", exact=True).fill("1")
    console.get_by_label("Work hours rate unit", exact=True).select_option("Mbps")
    console.get_by_role("button", name="Save").click()
    expect(console.locator("#other_rate_error")).to_contain_text("2000Mbps is out of range")
    assert shown(console_agent) == before


def test_throttling_off_and_the_machine_tab(console_agent: ConsoleAgent, console: Page) -> None:
    console.goto(console_agent.url + "properties")
    console.get_by_label("Enable internet bandwidth usage throttling").uncheck()
    console.get_by_role("button", name="Save").click()
    expect(console.locator("#saved")).to_be_visible()
    assert shown(console_agent)["enabled"] is False
    console.get_by_role("link", name="Machine").click()
    expect(console.locator("main")).to_contain_text("consolebox")
    expect(console.locator("main")).to_contain_text(str(console_agent.cli.home))
    shot(console, "change-properties-machine")
