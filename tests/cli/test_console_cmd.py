"""`cairn console` with no agent running says how to start one."""

from __future__ import annotations

from tests.cli.conftest import Cli


def test_console_without_an_agent_says_to_start_one(registered: Cli) -> None:
    proc = registered.run("console", expect=1)
    assert "no agent is running" in proc.stderr and "cairn agent run" in proc.stderr
    assert proc.stdout == ""
