"""The Schedule Backup wizard in Chromium against a real agent: a policy scheduled page by page
(then `cairn policy show` agrees), and a value outside MARS's limits refused in place with
`policy set`'s words, every other value kept, with JavaScript off."""

from __future__ import annotations

import json
from collections.abc import Callable

from playwright.sync_api import Browser, Page, expect

from tests.console.conftest import ConsoleAgent, shot


def next_page(page: Page) -> None:
    page.get_by_role("button", name="Next", exact=True).click()


def test_the_seed_policy_is_scheduled_through_every_page(
    console_agent: ConsoleAgent, console: Page
) -> None:
    data = console_agent.tmp / "data"
    (data / "docs").mkdir(parents=True, exist_ok=True)
    (data / "docs" / "a.txt").write_text("a")
    page = console
    page.get_by_role("navigation", name="Actions").get_by_role(
        "link", name="Schedule Backup"
    ).click()
    expect(page.get_by_role("heading", name="1. Select items to back up")).to_be_visible()
    page.get_by_label("Open folder").fill(str(console_agent.tmp))
    page.get_by_role("button", name="Open", exact=True).click()
    for item in page.locator("ul.items input[name=item]").all():
        value = item.get_attribute("value")
        page.get_by_role("button", name=f"Remove {value}").click()
    page.get_by_role("button", name="Add data", exact=True).click()
    expect(page.locator("ul.items")).to_contain_text(str(data))
    shot(page, "schedule-1-items")
    next_page(page)
    expect(page.get_by_role("heading", name="2. Exclusion settings")).to_be_visible()
    page.get_by_label("Exclusion patterns").fill("*.tmp\n/srv/data/cache")
    shot(page, "schedule-2-exclusions")
    next_page(page)
    page.get_by_label("Daily", exact=True).check()
    page.get_by_label("First time").fill("00:00")
    page.get_by_label("Second time (optional)").fill("18:00")
    page.get_by_label("Third time (optional)").fill("")
    page.get_by_label("Times are wall-clock times").fill("Europe/Berlin")
    shot(page, "schedule-3-schedule")
    next_page(page)
    expect(page.get_by_role("heading", name="4. Retention policy")).to_be_visible()
    page.get_by_label("Keep each daily backup for").fill("7")
    weekly = page.locator("fieldset", has_text="Retention policy (Weekly)")
    weekly.get_by_label("Retention policy (Weekly)").check()
    kept_on = weekly.get_by_role("group", name="Keep the backups taken on")
    kept_on.get_by_label("Sun").uncheck()
    kept_on.get_by_label("Sat").check()
    page.locator("#weekly_weeks").fill("4")
    for rule, count in (("Monthly", "12"), ("Yearly", "10")):
        box = page.locator("fieldset", has_text=f"Retention policy ({rule})")
        box.get_by_label(f"Retention policy ({rule})").check()
        box.get_by_label("Week based: on the").check()
        box.get_by_role("group", name="Week of the month").get_by_label("Last").check()
        box.get_by_role("group", name="Day of the week").get_by_label("Sat").check()
        box.get_by_label("Keep for").fill(count)
    yearly = page.locator("fieldset", has_text="Retention policy (Yearly)")
    yearly.get_by_label("Mar", exact=True).check()
    shot(page, "schedule-4-retention")
    next_page(page)
    expect(page.get_by_role("heading", name="5. Initial backup type")).to_be_visible()
    page.get_by_label("Automatically over the network (online)").check()
    shot(page, "schedule-5-initial")
    next_page(page)
    expect(page.get_by_role("heading", name="6. Confirmation")).to_be_visible()
    chart = page.get_by_role("img", name="Recovery points alive, by the rule keeping each")
    expect(chart).to_be_visible()
    assert page.locator("svg.chart rect.rule-yearly").count() > 0
    expect(page.locator("#preview-summary")).to_contain_text("recovery points alive at once")
    shot(page, "schedule-6-confirm")
    page.get_by_role("button", name="Finish").click()
    expect(page.get_by_role("status")).to_have_text(
        "The backup policy is set for machine consolebox"
    )
    shot(page, "schedule-7-done")
    shown = json.loads(console_agent.cli.run("policy", "show", "--json").stdout)
    assert shown["policy"]["items"] == [str(data)]
    assert shown["policy"]["exclude"] == ["*.tmp", "/srv/data/cache"]
    assert shown["policy"]["timezone"] == "Europe/Berlin"
    assert shown["schedule"] == {"frequency": "daily", "times": ["00:00", "18:00"]}
    assert shown["retention"] == {
        "daily": {"days": 7},
        "weekly": {"days_of_week": ["sat"], "weeks": 4},
        "monthly": {"weeks_of_month": ["last"], "days_of_week": ["sat"], "months": 12},
        "yearly": {
            "months_of_year": ["mar"],
            "weeks_of_month": ["last"],
            "days_of_week": ["sat"],
            "years": 10,
        },
    }


def test_an_out_of_limits_value_is_refused_in_place_without_javascript(
    console_agent: ConsoleAgent, browser: Browser, login: Callable[[Page], Page]
) -> None:
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1200, "height": 800}
    )
    try:
        page = login(context.new_page())
        page.goto(console_agent.url + "schedule")
        next_page(page)
        next_page(page)
        page.get_by_label("First time").fill("06:30")
        page.get_by_label("Second time (optional)").fill("19:45")
        next_page(page)
        page.get_by_label("Keep each daily backup for").fill("12")
        weekly = page.locator("fieldset", has_text="Retention policy (Weekly)")
        weekly.get_by_label("Retention policy (Weekly)").check()
        page.locator("#weekly_weeks").fill("3")
        next_page(page)
        message = weekly.get_by_role("alert")
        expect(message).to_have_text(
            "retention.weekly.weeks: 3 is out of range; allowed: 4 to 5163 weeks"
        )
        expect(page.get_by_role("heading", name="4. Retention policy")).to_be_visible()
        expect(page.locator("#weekly_weeks")).to_have_value("3")
        expect(page.locator("#weekly_weeks")).to_have_attribute("aria-invalid", "true")
        expect(page.get_by_label("Keep each daily backup for")).to_have_value("12")
        shot(page, "schedule-error-in-place")
        page.locator("#weekly_weeks").fill("5")
        page.get_by_role("button", name="Back").click()
        expect(page.get_by_label("First time")).to_have_value("06:30")
        expect(page.get_by_label("Second time (optional)")).to_have_value("19:45")
        # A time zone that does not exist is refused on its own page, in policy set's words.
        page.get_by_label("Times are wall-clock times").fill("Mars/Olympus_Mons")
        next_page(page)
        expect(page.locator("fieldset", has_text="Time zone").get_by_role("alert")).to_have_text(
            "policy.timezone: 'Mars/Olympus_Mons' is not an IANA time zone name (e.g. Europe/Berlin)"
        )
    finally:
        context.close()
