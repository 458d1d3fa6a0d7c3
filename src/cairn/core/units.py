"""Sizes and durations written for people."""

from __future__ import annotations


def format_bytes(n: float) -> str:
    """1536 -> '1.5 KiB'."""
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    value = float(n)
    for unit in units:
        if abs(value) < 1024 or unit == units[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def format_duration(seconds: float) -> str:
    """75.2 -> '1m15s'."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def format_bitrate(bits_per_second: int) -> str:
    """A rate in decimal bits per second, as MARS and network gear write it: 4000000 -> '4Mbps',
    512000 -> '512Kbps', 1500000 -> '1.5Mbps'. Exact: no rounding for values Cairn accepts."""
    for unit, scale in (("Mbps", 10**6), ("Kbps", 10**3)):
        if bits_per_second >= scale:
            whole, rest = divmod(bits_per_second, scale)
            if not rest:
                return f"{whole}{unit}"
            digits = f"{rest:0{len(str(scale)) - 1}d}".rstrip("0")
            return f"{whole}.{digits}{unit}"
    return f"{bits_per_second}bps"
