"""The console's gate over real HTTP against a real agent: sessions, the one-time login token,
CSRF and the Host check (console/guard.py)."""

from __future__ import annotations

import http.client
import re

from playwright.sync_api import Page, expect

from cairn.console.forms import MAX_FORM_BYTES
from tests.agent.conftest import wait_for
from tests.console.conftest import ConsoleAgent, shot


def request(
    agent: ConsoleAgent,
    method: str,
    path: str,
    *,
    body: str | None = None,
    headers: dict[str, str] | None = None,
) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", agent.port, timeout=10)
    all_headers = {"Host": f"127.0.0.1:{agent.port}", **(headers or {})}
    if body is not None:
        all_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    try:
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        response.body = response.read()  # type: ignore[attr-defined]
        return response
    finally:
        conn.close()


def session_cookie(agent: ConsoleAgent) -> str:
    response = request(agent, "GET", agent.login_url().split(str(agent.port), 1)[1])
    assert response.status == 303 and response.getheader("Location") == "/"
    cookie = response.getheader("Set-Cookie") or ""
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie, cookie
    return cookie.split(";", 1)[0]


def test_no_session_is_sent_to_login(console_agent: ConsoleAgent, page: Page) -> None:
    page.goto(console_agent.url + "jobs")
    expect(page).to_have_url(console_agent.url + "login")
    expect(page.get_by_text("cairn console --open")).to_be_visible()
    shot(page, "login")


def test_the_login_url_lands_on_the_dashboard_without_the_token(
    console_agent: ConsoleAgent, page: Page
) -> None:
    page.goto(console_agent.login_url())
    expect(page).to_have_url(console_agent.url)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    cookies = page.context.cookies()
    assert [(c["name"], c["httpOnly"], c["sameSite"]) for c in cookies] == [
        ("cairn_session", True, "Strict")
    ]


def test_a_used_token_is_refused(console_agent: ConsoleAgent, page: Page) -> None:
    url = console_agent.login_url()
    page.goto(url)
    expect(page).to_have_url(console_agent.url)
    page.context.clear_cookies()
    response = page.goto(url)
    assert response is not None and response.status == 403
    expect(page.get_by_role("alert")).to_contain_text("used already")
    page.goto(console_agent.url)
    expect(page).to_have_url(console_agent.url + "login")


def test_a_wrong_token_is_refused(console_agent: ConsoleAgent) -> None:
    good = console_agent.login_url()
    wrong = re.sub(r"token=.", "token=-", good)
    assert request(console_agent, "GET", "/login?" + wrong.split("?", 1)[1]).status == 403


def test_a_post_without_the_csrf_token_is_refused(console_agent: ConsoleAgent) -> None:
    cookie = session_cookie(console_agent)
    assert (
        request(console_agent, "POST", "/backup", body="x=1", headers={"Cookie": cookie}).status
        == 403
    )
    assert (
        request(
            console_agent, "POST", "/backup", body="csrf=forged", headers={"Cookie": cookie}
        ).status
        == 403
    )
    assert request(console_agent, "POST", "/backup", body="x=1").status == 403  # no session


def test_a_foreign_host_is_refused(console_agent: ConsoleAgent) -> None:
    cookie = session_cookie(console_agent)
    for host in ("evil.example", "evil.example:80", f"127.0.0.1.evil.example:{console_agent.port}"):
        response = request(console_agent, "GET", "/", headers={"Host": host, "Cookie": cookie})
        assert response.status == 403, host
    assert request(console_agent, "GET", "/", headers={"Cookie": cookie}).status == 200


def test_console_open_hands_the_url_to_a_browser(console_agent: ConsoleAgent) -> None:
    seen = console_agent.tmp / "opened.txt"
    browser = console_agent.tmp / "browser.sh"
    browser.write_text(f'#!/bin/sh\nprintf "%s" "$1" > {seen}\n')
    browser.chmod(0o755)
    proc = console_agent.cli.run(
        "console", "--open", env=console_agent.cli.environ(BROWSER=f"{browser} %s")
    )
    url = proc.stdout.strip()
    assert url.startswith(console_agent.url + "login?token=")
    assert "works once, for 5 minutes" in proc.stderr
    assert wait_for(lambda: seen.exists() and seen.read_text()) == url
    cookie = request(console_agent, "GET", url.split(str(console_agent.port), 1)[1])
    assert cookie.status == 303  # the opened URL logs in (once)


def test_a_foreign_origin_is_refused_even_with_the_session_and_csrf(
    console_agent: ConsoleAgent,
) -> None:
    cookie = session_cookie(console_agent)
    page = request(console_agent, "GET", "/backup", headers={"Cookie": cookie})
    assert page.status == 200
    own = f"http://127.0.0.1:{console_agent.port}"
    for origin in ("http://evil.example", "null", f"http://127.0.0.1:{console_agent.port + 1}"):
        response = request(
            console_agent,
            "POST",
            "/backup",
            body="x=1",
            headers={"Cookie": cookie, "Origin": origin, "X-CSRF-Token": "whatever"},
        )
        assert response.status == 403 and b"Origin" in response.body, origin
        response = request(
            console_agent, "GET", "/jobs", headers={"Cookie": cookie, "Origin": origin}
        )
        assert response.status == 403, origin
    # The console's own origin passes the gate (and meets the CSRF check after it).
    response = request(
        console_agent,
        "POST",
        "/backup",
        body="x=1",
        headers={"Cookie": cookie, "Origin": own, "X-CSRF-Token": "forged"},
    )
    assert response.status == 403 and b"CSRF" in response.body  # the token's refusal
    assert (
        request(console_agent, "GET", "/jobs", headers={"Cookie": cookie, "Origin": own}).status
        == 200
    )


def test_an_oversized_form_is_413(console_agent: ConsoleAgent) -> None:
    cookie = session_cookie(console_agent)
    body = "x=" + "a" * (MAX_FORM_BYTES + 10)
    response = request(console_agent, "POST", "/backup", body=body, headers={"Cookie": cookie})
    assert response.status == 413
