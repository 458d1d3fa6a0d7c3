"""An agent that stops while a page is open: the page says so, and when the agent is back (on the
same port, the same CAIRN_HOME) the page reconnects, with the same session."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.console.conftest import ConsoleAgent, shot


def test_the_page_says_the_agent_stopped_and_reconnects(
    console_agent: ConsoleAgent, console: Page
) -> None:
    banner = console.locator("#agent-down")
    token = console_agent.login_url().split("token=", 1)[1]
    console.goto(console_agent.url + "login?token=" + token)
    console.goto(console_agent.url + "jobs")
    expect(banner).to_be_hidden()
    console_agent.stop()
    expect(banner).to_be_visible(timeout=15_000)
    # nothing the agent printed or logged names a login token or a page it served
    assert token not in console_agent.output and "token=" not in console_agent.output
    assert "GET /" not in console_agent.output, console_agent.output
    expect(banner).to_contain_text("The agent stopped or is not answering. Reconnecting")
    shot(console, "agent-stopped")
    console_agent.restart()
    expect(banner).to_be_hidden(timeout=15_000)
    console.reload()  # the session outlived the restart: no new login
    expect(console).to_have_url(console_agent.url + "jobs")
    expect(console.get_by_role("heading", name="Jobs")).to_be_visible()
