"""The throttle's rules: rates and their limits, work hours and days, midnight, DST, boundaries."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.core.errors import UsageError
from cairn.core.units import format_bitrate
from cairn.policy import (
    Throttle,
    parse_rate,
    rate_at,
    throttle_from_flags,
    throttle_from_json,
    throttle_to_json,
)
from cairn.policy.throttle import format_work_days, parse_work_days, parse_work_hours

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


def office(
    hours: str = "09:00-18:00", days: str = "mon-fri", zone: str = "Europe/Berlin"
) -> Throttle:
    return throttle_from_flags(
        None,
        work_hours=hours,
        work_days=days,
        work_rate="4Mbps",
        other_rate="100Mbps",
        timezone=zone,
        default_timezone="UTC",
    )


# --- rates ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "bps"),
    [
        ("512Kbps", 512_000),
        ("4Mbps", 4_000_000),
        ("16Mbps", 16_000_000),
        ("1023Mbps", 1_023_000_000),
        ("1.5Mbps", 1_500_000),
        ("100 Mbps", 100_000_000),
        ("600kbps", 600_000),
        ("1Gbps", 1_000_000_000),
        ("800000bps", 800_000),
    ],
)
def test_rates_are_decimal_bits_per_second(text: str, bps: int) -> None:
    assert parse_rate(text, "--work-rate") == bps


@pytest.mark.parametrize(
    "text", ["511Kbps", "100Kbps", "0Mbps", "1024Mbps", "1023.5Mbps", "2Gbps", "511999bps"]
)
def test_a_rate_outside_512kbps_to_1023mbps_is_refused_naming_field_value_and_range(
    text: str,
) -> None:
    with pytest.raises(UsageError) as e:
        parse_rate(text, "--work-rate")
    assert str(e.value) == f"--work-rate: {text} is out of range; allowed: 512Kbps to 1023Mbps"


@pytest.mark.parametrize("text", ["4MBps", "4MB/s", "4", "fast", "-4Mbps", "4 Mibps", ""])
def test_a_rate_that_is_not_bits_per_second_is_refused_with_the_range(text: str) -> None:
    with pytest.raises(UsageError) as e:
        parse_rate(text, "--other-rate")
    message = str(e.value)
    assert message.startswith(f"--other-rate: {text!r} is not a rate")
    assert "512Kbps to 1023Mbps" in message


@pytest.mark.parametrize("bps", [512_000, 4_000_000, 1_500_000, 1_023_000_000, 999_999, 612_500])
def test_rates_print_as_they_parse(bps: int) -> None:
    assert parse_rate(format_bitrate(bps), "x") == bps


# --- work hours and days ---------------------------------------------------------------------------


def test_work_hours_and_days_parse() -> None:
    assert parse_work_hours("09:00-18:00", "f") == (time(9), time(18))
    assert parse_work_hours("9:30 - 17:45", "f") == (time(9, 30), time(17, 45))
    assert parse_work_hours("09:00-24:00", "f") == (time(9), time(0))
    assert parse_work_days("mon-fri", "f") == (0, 1, 2, 3, 4)
    assert parse_work_days("Sat,SUN", "f") == (5, 6)
    assert parse_work_days("fri-mon", "f") == (0, 4, 5, 6)
    assert format_work_days((0, 1, 2, 3, 4)) == "mon-fri"
    assert format_work_days((0, 2, 4)) == "mon,wed,fri"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("09:00-09:00", "same time"),
        ("25:00-18:00", "out of range"),
        ("09:00-24:30", "out of range"),
        ("09:60-18:00", "out of range"),
        ("9-18", "not work hours"),
    ],
)
def test_bad_work_hours_are_refused(text: str, words: str) -> None:
    with pytest.raises(UsageError, match="--work-hours") as e:
        parse_work_hours(text, "--work-hours")
    assert words in str(e.value)


@pytest.mark.parametrize("text", ["funday", "mon-funday", "", " , "])
def test_bad_work_days_are_refused(text: str) -> None:
    with pytest.raises(UsageError, match="--work-days"):
        parse_work_days(text, "--work-days")


def test_turning_on_needs_every_field_and_a_change_keeps_the_others() -> None:
    with pytest.raises(UsageError) as e:
        throttle_from_flags(None, work_rate="4Mbps", default_timezone="UTC")
    assert "--work-hours, --work-days, --other-rate" in str(e.value)
    base = office()
    changed = throttle_from_flags(base, work_rate="8Mbps", default_timezone="UTC")
    assert changed.work_rate_bps == 8_000_000
    assert (changed.work_start, changed.work_days, changed.other_rate_bps) == (
        base.work_start,
        base.work_days,
        base.other_rate_bps,
    )
    assert changed.timezone == "Europe/Berlin"
    with pytest.raises(UsageError, match="nothing to change"):
        throttle_from_flags(base, default_timezone="UTC")
    with pytest.raises(UsageError, match="timezone"):
        office(zone="Mars/Olympus")


def test_the_stored_form_round_trips_and_refuses_what_it_does_not_know() -> None:
    t = office("22:00-06:00", "mon,wed")
    assert throttle_from_json(throttle_to_json(t)) == t
    assert throttle_from_json({"enabled": False}) is None
    assert throttle_to_json(None) == {"enabled": False}
    doc = throttle_to_json(t)
    with pytest.raises(UsageError, match="work_rate_bps: 100Kbps is out of range"):
        throttle_from_json(doc | {"work_rate_bps": 100_000})
    with pytest.raises(UsageError, match="unknown key rate"):
        throttle_from_json(doc | {"rate": 1})
    with pytest.raises(UsageError, match="other_rate_bps"):
        throttle_from_json(doc | {"other_rate_bps": "4Mbps"})


# --- the rate in force -------------------------------------------------------------------------------


def test_work_rate_in_work_hours_on_work_days_other_rate_otherwise() -> None:
    t = office()
    assert rate_at(t, berlin(2026, 11, 25, 8, 59, 59)) == 100_000_000 / 8  # a Wednesday
    assert rate_at(t, berlin(2026, 11, 25, 9, 0)) == 4_000_000 / 8
    assert rate_at(t, berlin(2026, 11, 25, 17, 59, 59)) == 500_000
    assert rate_at(t, berlin(2026, 11, 25, 18, 0)) == 12_500_000
    assert rate_at(t, berlin(2026, 11, 28, 12, 0)) == 12_500_000  # Saturday
    assert rate_at(None, berlin(2026, 11, 25, 12, 0)) is None  # off
    # The same instant written in UTC: the zone of the setting decides, not the caller's.
    assert t.limit_at(datetime(2026, 11, 25, 8, 30, tzinfo=UTC)) == 4_000_000  # 09:30 in Berlin


def test_next_change_is_the_next_boundary_skipping_days_off() -> None:
    t = office()
    assert t.next_change(berlin(2026, 11, 25, 8, 0)) == berlin(2026, 11, 25, 9, 0)
    assert t.next_change(berlin(2026, 11, 25, 9, 0)) == berlin(2026, 11, 25, 18, 0)
    # Friday evening: the next change is Monday morning.
    assert t.next_change(berlin(2026, 11, 27, 18, 0)) == berlin(2026, 11, 30, 9, 0)


def test_work_hours_crossing_midnight_belong_to_the_day_they_start() -> None:
    t = office("22:00-06:00", "mon-fri")
    assert t.crosses_midnight
    assert t.limit_at(berlin(2026, 11, 23, 23, 0)) == 4_000_000  # Monday night
    assert t.limit_at(berlin(2026, 11, 24, 5, 59)) == 4_000_000  # Tuesday early: Monday's
    assert t.limit_at(berlin(2026, 11, 28, 5, 0)) == 4_000_000  # Saturday early: Friday's
    assert t.limit_at(berlin(2026, 11, 23, 5, 0)) == 100_000_000  # Monday early: Sunday is off
    assert t.limit_at(berlin(2026, 11, 28, 22, 30)) == 100_000_000  # Saturday night
    assert t.next_change(berlin(2026, 11, 28, 5, 0)) == berlin(2026, 11, 28, 6, 0)
    assert t.next_change(berlin(2026, 11, 28, 6, 0)) == berlin(2026, 11, 30, 22, 0)


def test_work_hours_until_midnight() -> None:
    t = office("18:00-24:00", "sat")
    assert t.limit_at(berlin(2026, 11, 28, 23, 59)) == 4_000_000
    assert t.limit_at(berlin(2026, 11, 29, 0, 0)) == 100_000_000
    assert t.next_change(berlin(2026, 11, 28, 19, 0)) == berlin(2026, 11, 29, 0, 0)


def test_dst_days_follow_the_wall_clock() -> None:
    # Berlin: clocks go forward 2027-03-28 02:00 -> 03:00 and back 2027-10-31 03:00 -> 02:00.
    t = office("01:00-09:00", "mon-sun")
    spring = t.work_periods(berlin(2027, 3, 28).date(), berlin(2027, 3, 28).date())
    autumn = t.work_periods(berlin(2027, 10, 31).date(), berlin(2027, 10, 31).date())
    assert [end - start for start, end in spring] == [timedelta(hours=7)]
    assert [end - start for start, end in autumn] == [timedelta(hours=9)]
    assert t.next_change(berlin(2027, 3, 28, 0, 30)) == datetime(2027, 3, 28, 0, 0, tzinfo=UTC)
    assert t.next_change(berlin(2027, 3, 28, 1, 30)) == datetime(2027, 3, 28, 7, 0, tzinfo=UTC)


def test_a_boundary_the_dst_gap_skips_is_the_first_instant_after_it() -> None:
    t = office("02:30-12:00", "sun")
    # 02:30 does not exist on 2027-03-28: work hours begin at 03:00 CEST (01:00 UTC).
    assert t.limit_at(datetime(2027, 3, 28, 0, 59, tzinfo=UTC)) == 100_000_000
    assert t.limit_at(datetime(2027, 3, 28, 1, 0, tzinfo=UTC)) == 4_000_000
    assert t.next_change(datetime(2027, 3, 28, 0, 0, tzinfo=UTC)) == datetime(
        2027, 3, 28, 1, 0, tzinfo=UTC
    )
    # 02:30 occurs twice on 2027-10-31: work hours begin at the first one (00:30 UTC).
    assert t.limit_at(datetime(2027, 10, 31, 0, 30, tzinfo=UTC)) == 4_000_000
    assert t.limit_at(datetime(2027, 10, 31, 0, 29, tzinfo=UTC)) == 100_000_000


@settings(max_examples=200, deadline=None)
@given(
    minutes=st.integers(0, 60 * 24 * 400),
    start=st.integers(0, 95),
    length=st.integers(1, 95),
    days=st.sets(st.integers(0, 6), min_size=1),
    zone=st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC"]),
)
def test_the_rate_holds_until_next_change_and_changes_there(
    minutes: int, start: int, length: int, days: set[int], zone: str
) -> None:
    begin = time(start // 4, start % 4 * 15)
    end_q = (start + length) % 96
    end = time(end_q // 4, end_q % 4 * 15)
    t = Throttle(begin, end, tuple(days), 4_000_000, 100_000_000, zone)
    now = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes, seconds=17)
    change = t.next_change(now)
    assert change > now
    working = t.in_work_hours(now)
    assert t.in_work_hours(change - timedelta(seconds=1)) == working
    assert t.in_work_hours(change) != working
