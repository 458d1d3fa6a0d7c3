"""The console in a real browser: one real agent per test module (`cairn agent run` in its own
process, a temp CAIRN_HOME, a local vault) and Debian's Chromium driven by Playwright (one browser
for the whole run; a fresh browser context, so a fresh cookie jar, per test).

`login(page)` opens the one-time URL `cairn console` prints, which lands on the dashboard.
With CAIRN_CONSOLE_SHOTS=1, `shot(page, name)` saves the page as docs/console/<name>.png (the
README's and docs' screenshots are taken by the tests, in the states they check).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from cairn.core.clock import SystemClock
from cairn.engine.home import Home
from cairn.engine.session import create_vault, register
from tests.agent.conftest import AgentProcess
from tests.cli.conftest import PASSPHRASE, Cli

CHROMIUM = "/usr/lib/chromium/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"


def shot(page: Page, name: str) -> None:
    if os.environ.get("CAIRN_CONSOLE_SHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def base_url() -> str | None:
    """Replaces pytest-playwright's own, which pytest 9 warns about (warnings are errors here)."""
    return None


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1200, "height": 800}}


class ConsoleAgent:
    """A running agent serving the console, and the `cairn` command line beside it."""

    def __init__(self, cli: Cli, tmp: Path, *args: str) -> None:
        self.cli = cli
        self.tmp = tmp
        self.args = args
        self.process = AgentProcess(cli, "--no-setup", *args)
        self.output = ""  # what the stopped agents printed (stdout and stderr)

    def restart(self) -> None:
        self.stop()
        self.process = AgentProcess(self.cli, "--no-setup", *self.args)

    @property
    def url(self) -> str:
        return str(json.loads((self.cli.home / "agent.json").read_text())["console_url"])

    @property
    def port(self) -> int:
        return int(json.loads((self.cli.home / "agent.json").read_text())["port"])

    def login_url(self) -> str:
        """What `cairn console` prints: a one-time URL."""
        return self.cli.run("console").stdout.strip()

    def quick_login_url(self) -> str:
        """The same URL from the agent's API in this process (no `cairn` start-up)."""
        return f"{self.url}login?token={self.process.client.console_token()}"

    def stop(self) -> None:
        proc = self.process.proc
        if proc.poll() is None:
            proc.terminate()
            try:
                out, err = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                out, err = proc.communicate()
            self.output += out + err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def console_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleAgent]:
    """The agent on a fixed port, so a restarted one answers the same pages."""
    tmp = tmp_path_factory.mktemp("console")
    cli = Cli(tmp / "home", env={"TZ": "UTC"})
    clock = SystemClock()
    create_vault(str(tmp / "vault"), clock)
    register(Home(cli.home), str(tmp / "vault"), clock, machine="consolebox", passphrase=PASSPHRASE)
    agent = ConsoleAgent(cli, tmp, "--port", str(free_port()))
    yield agent
    agent.stop()


@pytest.fixture
def login(console_agent: ConsoleAgent) -> Callable[[Page], Page]:
    def go(page: Page) -> Page:
        page.goto(console_agent.quick_login_url())
        page.wait_for_url(console_agent.url)
        return page

    return go


@pytest.fixture
def console(page: Page, login: Callable[[Page], Page]) -> Page:
    """A browser page logged in to the console, on the dashboard."""
    return login(page)
