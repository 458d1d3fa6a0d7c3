"""`cairn throttle set | show` through the real command."""

from __future__ import annotations

import json

import pytest

from cairn.cli.render import limit_text
from tests.cli.conftest import Cli

ON = (
    "--work-hours",
    "09:00-18:00",
    "--work-days",
    "mon-fri",
    "--work-rate",
    "4Mbps",
    "--other-rate",
    "100Mbps",
    "--timezone",
    "Europe/Berlin",
)


def test_set_show_change_and_off(cli: Cli) -> None:
    assert "throttling: off" in cli.run("throttle", "show").stdout
    out = cli.run("throttle", "set", *ON).stdout
    assert "throttling: on" in out and "work rate:  4Mbps" in out
    assert "work hours: 09:00-18:00 (Europe/Berlin)" in out
    assert "local vaults are not throttled" in out
    cli.run("throttle", "set", "--work-rate", "8Mbps")
    shown = json.loads(cli.run("throttle", "show", "--json").stdout)
    assert shown["enabled"] is True
    assert shown["work_days"] == ["mon", "tue", "wed", "thu", "fri"]
    assert (shown["work_rate_bps"], shown["other_rate_bps"]) == (8_000_000, 100_000_000)
    assert shown["limit_now_bps"] in (8_000_000, 100_000_000)
    assert shown["next_change"] and shown["vault"] is None and shown["throttled_now"] is False
    assert "throttling: off" in cli.run("throttle", "set", "--off").stdout
    assert json.loads(cli.run("throttle", "show", "--json").stdout)["enabled"] is False


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (
            ("--work-rate", "100Kbps"),
            "--work-rate: 100Kbps is out of range; allowed: 512Kbps to 1023Mbps",
        ),
        (("--other-rate", "1024Mbps"), "--other-rate: 1024Mbps is out of range; allowed: 512Kbps"),
        (("--work-rate", "4MB/s"), "--work-rate: '4MB/s' is not a rate"),
        (("--work-hours", "09:00-09:00"), "--work-hours: 09:00-09:00 starts and ends at the same"),
        (("--work-hours", "26:00-08:00"), "--work-hours: 26:00-08:00 is out of range"),
        (("--work-days", "funday"), "--work-days: 'funday' is not a day"),
        (("--timezone", "Mars/Olympus"), "timezone: 'Mars/Olympus' is not an IANA"),
        (("--off", "--work-rate", "4Mbps"), "--off turns throttling off: give it alone"),
    ],
)
def test_refusals_exit_2_and_change_nothing(cli: Cli, flags: tuple[str, ...], words: str) -> None:
    cli.run("throttle", "set", *ON)
    stored = cli.home / "throttle.json"
    before = stored.read_bytes()
    proc = cli.run("throttle", "set", *flags, expect=2)
    assert words in proc.stderr
    assert stored.read_bytes() == before


def test_turning_on_names_the_missing_flags(cli: Cli) -> None:
    proc = cli.run("throttle", "set", "--work-rate", "4Mbps", expect=2)
    assert "give --work-hours, --work-days, --other-rate" in proc.stderr


def test_show_says_a_local_vault_is_not_throttled(registered: Cli) -> None:
    registered.run("throttle", "set", *ON)
    out = registered.run("throttle", "show").stdout
    assert "(local: not throttled)" in out
    shown = json.loads(registered.run("throttle", "show", "--json").stdout)
    assert shown["vault_remote"] is False and shown["throttled_now"] is False


def test_the_progress_bar_shows_the_limit() -> None:
    assert limit_text(4_000_000) == "limit 4Mbps"
    assert limit_text(None) == ""
