"""A retain-until date already over (a past date, or today when today is over in the policy's zone)
is refused with exit 2, naming the date and the earliest allowed one; before, it was accepted and
the next prune deleted the point."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from cairn.core.errors import EXIT_USAGE, UsageError
from cairn.engine.ondemand import parse_retain_until
from cairn.policy import Policy, parse_policy
from tests.cli.conftest import Cli, cli, registered

__all__ = ["cli", "registered"]

POLICY = """
[policy]
items = ["/srv"]
timezone = "{zone}"

[schedule]
frequency = "daily"
times = ["21:00"]

[retention.daily]
days = 7
"""


def _policy(zone: str) -> Policy:
    return parse_policy(POLICY.format(zone=zone), default_timezone="UTC", today=date(2026, 12, 1))


def test_today_over_in_the_policys_zone_is_refused() -> None:
    # 12:00 UTC on 3 December is already 4 December 02:00 in Kiritimati (UTC+14).
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    with pytest.raises(UsageError) as e:
        parse_retain_until("2026-12-03", _policy("Pacific/Kiritimati"), now)
    assert e.value.exit_code == EXIT_USAGE
    assert "2026-12-03" in str(e.value) and "earliest allowed date is 2026-12-04" in str(e.value)
    assert parse_retain_until("2026-12-04", _policy("Pacific/Kiritimati"), now) == date(2026, 12, 4)
    # In UTC that date is today, not over: accepted.
    assert parse_retain_until("2026-12-03", _policy("UTC"), now) == date(2026, 12, 3)


def test_a_past_date_is_refused_by_backup(registered: Cli, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("a\n")
    yesterday = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()
    out = registered.run(
        "backup",
        str(tmp_path / "src"),
        "--retain-until",
        yesterday,
        expect=2,
        env=registered.environ(TZ="UTC"),
    )
    assert yesterday in out.stderr and "earliest allowed date is" in out.stderr
    assert "no recovery points yet" in registered.run("recovery-points").stdout
