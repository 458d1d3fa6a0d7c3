"""`simulate`: refusals, retain-until and the newest point on a simulated clock; the peak count
against a count taken at every backup; the worst-case bound against what simulations reach."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.core.errors import UsageError
from cairn.policy import (
    PointFacts,
    Policy,
    alive,
    expiry,
    next_runs,
    runs_between,
    simulate,
    worst_case_points,
)

from .conftest import Build
from .test_retention_reference import Spec, build, policies

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2027, 1, 4, 0, 0, tzinfo=BERLIN)

DAILY_ONLY = """
[schedule]
frequency = "daily"
times = ["00:00", "18:00"]
[retention.daily]
days = 7
"""


def test_a_fail_time_that_is_no_run_is_refused(seed: Policy) -> None:
    with pytest.raises(
        UsageError, match=r"fail: 2027-01-05T09:00:00\+01:00 is not a scheduled"
    ) as e:
        simulate(seed, START, START + timedelta(days=5), fail={START + timedelta(days=1, hours=9)})
    assert "the next run is 2027-01-05T18:00:00+01:00" in str(e.value)


def test_an_on_demand_time_outside_the_period_is_refused(seed: Policy) -> None:
    with pytest.raises(UsageError, match=r"on_demand: .* outside the simulated period"):
        simulate(
            seed, START, START + timedelta(days=5), on_demand=[(START - timedelta(hours=1), None)]
        )


def test_until_before_from_is_refused(seed: Policy) -> None:
    with pytest.raises(UsageError, match=r"until: .* is before from"):
        simulate(seed, START, START - timedelta(days=1))


def test_a_run_at_until_is_taken(seed: Policy) -> None:
    result = simulate(seed, START, START + timedelta(days=1))
    assert result.runs == 3
    assert result.points[-1].time == START + timedelta(days=1)


def test_back_up_now_with_retain_until(seed: Policy) -> None:
    moment = datetime(2027, 1, 5, 10, 0, tzinfo=BERLIN)
    result = simulate(
        seed, START, datetime(2027, 3, 1, tzinfo=BERLIN), on_demand=[(moment, date(2027, 3, 31))]
    )
    [kept] = [p for p in result.points if p.trigger == "on-demand"]
    assert kept.rules == ("retain-until",)
    assert kept.expires.isoformat() == "2027-04-01T00:00:00+02:00"
    assert kept.to_json()["retain_until"] == "2027-03-31"


def test_when_every_later_backup_fails_the_newest_is_still_kept(build: Build) -> None:
    policy = build(DAILY_ONLY)
    until = START + timedelta(days=30)
    failing = {t for t in next_runs(policy, START + timedelta(days=3), 100) if t <= until}
    result = simulate(policy, START, until, fail=failing)
    [newest] = result.points
    assert newest.time == START + timedelta(days=3)
    assert newest.rules == ("newest",)
    assert result.peak == 7  # 3.5 days of two runs a day
    assert result.failed == len(failing)


def test_simulation_json(seed: Policy) -> None:
    result = simulate(seed, START, START + timedelta(hours=18))
    assert result.to_json() == {
        "points": [
            {
                "time": "2027-01-04T00:00:00+01:00",
                "trigger": "scheduled",
                "rules": ["daily"],
                "expires": "2027-01-11T00:00:00+01:00",
                "slot": "2027-01-04T00:00[Europe/Berlin]",
                "substitutes": None,
                "retain_until": None,
            },
            {
                "time": "2027-01-04T18:00:00+01:00",
                "trigger": "scheduled",
                "rules": ["daily"],
                "expires": "2027-01-11T18:00:00+01:00",
                "slot": "2027-01-04T18:00[Europe/Berlin]",
                "substitutes": None,
                "retain_until": None,
            },
        ],
        "count": 2,
        "peak": 2,
        "peak_at": "2027-01-04T18:00:00+01:00",
        "runs": 2,
        "failed": 0,
    }


def _count_alive(taken: list[PointFacts], ends: list[datetime], moment: datetime) -> int:
    """Points taken by `moment` and kept then: before their expiry, or the newest."""
    so_far = [i for i, p in enumerate(taken) if p.time.astimezone(UTC) <= moment]
    newest = max(taken[i].time.astimezone(UTC) for i in so_far)
    return sum(1 for i in so_far if taken[i].time.astimezone(UTC) == newest or ends[i] > moment)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), spec=policies(), days=st.integers(1, 40), with_failures=st.booleans())
def test_peak_is_the_most_points_alive_after_any_backup(
    data: st.DataObject, spec: Spec, days: int, with_failures: bool
) -> None:
    policy = build(spec)
    start = datetime(2027, 3, 1, tzinfo=policy.zone) + timedelta(
        minutes=data.draw(st.integers(0, 1440))
    )
    until = start + timedelta(days=days)
    runs = [r for r in runs_between(policy, start, until + timedelta(seconds=1))]
    # Failures, or on-demand backups, not both: then no backup substitutes for another, and
    # every point is a plain function of its own time.
    fail: set[datetime] = set()
    on_demand: list[tuple[datetime, date | None]] = []
    if with_failures and runs:
        fail = set(data.draw(st.lists(st.sampled_from([r.time for r in runs]), max_size=10)))
    elif not with_failures:
        span = int((until - start).total_seconds())
        on_demand = [
            (start + timedelta(seconds=s), d)
            for s, d in data.draw(
                st.lists(
                    st.tuples(
                        st.integers(0, span),
                        st.none() | st.dates(date(2027, 2, 1), date(2027, 12, 31)),
                    ),
                    max_size=5,
                )
            )
        ]
    result = simulate(policy, start, until, fail=fail, on_demand=on_demand)

    taken = [PointFacts(r.time, "scheduled", slot=r.slot) for r in runs if r.time not in fail]
    taken += [PointFacts(t, "on-demand", retain_until=d) for t, d in on_demand]
    ends = [expiry(p, policy).astimezone(UTC) for p in taken]
    moments = sorted({p.time.astimezone(UTC) for p in taken})
    counts = [_count_alive(taken, ends, m) for m in moments]
    assert result.peak == max(counts, default=0)
    if counts:
        # Compared in UTC: an aware time in a DST fold never equals one of another zone (PEP 495).
        assert result.peak_at is not None
        assert result.peak_at.astimezone(UTC) == moments[counts.index(max(counts))]
    kept = alive(taken, policy, until)
    assert sorted(p.time.astimezone(UTC) for p in result.points) == sorted(
        p.time.astimezone(UTC) for p in kept
    )
    assert result.count == len(kept)


@settings(max_examples=60, deadline=None)
@given(spec=policies())
def test_no_simulation_exceeds_the_worst_case(spec: Spec) -> None:
    policy = build(spec)
    retention = spec["retention"]
    longest_days = max(
        retention.get("daily", {}).get("days", 0),
        7 * retention.get("weekly", {}).get("weeks", 0),
        31 * retention.get("monthly", {}).get("months", 0),
        366 * retention.get("yearly", {}).get("years", 0),
    )
    start = datetime(2027, 1, 1, tzinfo=policy.zone)
    until = start + timedelta(days=min(longest_days + 40, 800))
    result = simulate(policy, start, until)
    assert result.peak <= worst_case_points(policy.schedule, policy.retention)


def test_the_seed_example_worst_case(seed: Policy) -> None:
    # daily 2 x 7; Saturdays older than 7 days: 2 x 3; last Saturdays: 2 x 13; March's: 2 x 11
    assert worst_case_points(seed.schedule, seed.retention) == 14 + 6 + 26 + 22
