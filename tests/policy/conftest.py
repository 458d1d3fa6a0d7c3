"""Fixtures: the seed's example policy, a builder for policies written as TOML, and the plain
reference for wall-clock time that the hypothesis tests check the policy layer against."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cairn.policy import Policy, parse_policy

SEED_POLICY = """
[policy]
items = ["/srv/data", "/home/alice/Documents"]
exclude = ["*.tmp", "/srv/data/cache"]
timezone = "Europe/Berlin"
initial_backup = "online"
start = 2026-12-07

[schedule]
frequency = "daily"
times = ["00:00", "18:00"]

[retention.daily]
days = 7

[retention.weekly]
days_of_week = ["sat"]
weeks = 4

[retention.monthly]
weeks_of_month = ["last"]
days_of_week = ["sat"]
months = 12

[retention.yearly]
months_of_year = ["mar"]
weeks_of_month = ["last"]
days_of_week = ["sat"]
years = 10
"""

Build = Callable[..., Policy]


@pytest.fixture
def seed() -> Policy:
    """Daily at 00:00 and 18:00 kept 7 days; Saturday's kept 4 weeks; the last Saturday of each
    month's kept 12 months; the last Saturday of March's kept 10 years (Europe/Berlin)."""
    return parse_policy(SEED_POLICY, default_timezone="UTC", today=date(2026, 12, 7))


def policy_with(body: str, timezone: str = "Europe/Berlin", start: str = "2026-12-07") -> Policy:
    """A policy with one item, whose [schedule] and [retention.*] tables are `body` (TOML)."""
    text = f'[policy]\nitems = ["/srv"]\ntimezone = "{timezone}"\nstart = {start}\n\n{body}'
    return parse_policy(text, default_timezone="UTC", today=date(2026, 12, 7))


@pytest.fixture
def build() -> Build:
    """`build(body, timezone=..., start=...)`: see `policy_with`."""
    return policy_with


def reference_resolve(local: datetime, zone: ZoneInfo) -> datetime:
    """The first whole minute (UTC) at which `zone`'s wall clock shows `local` or later.

    Scans from an instant whose wall clock cannot yet show `local` (the largest offset the zone
    uses within two days, subtracted), a minute at a time.
    """
    as_utc = local.replace(tzinfo=UTC)
    offsets = [(as_utc + timedelta(hours=h)).astimezone(zone).utcoffset() for h in range(-48, 49)]
    moment = as_utc - max(o for o in offsets if o is not None)
    while moment.astimezone(zone).replace(tzinfo=None) < local:
        moment += timedelta(minutes=1)
    return moment
