"""The machine's time zone as an IANA name (a policy's default zone)."""

from __future__ import annotations

import os
from pathlib import Path

_ZONEINFO_MARKERS = ("/zoneinfo/", "/zoneinfo.default/")


def machine_timezone() -> str:
    """TZ if it names a zone, else /etc/timezone, else where /etc/localtime points; else "UTC"."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz and "/" in tz and not tz.startswith("/"):
        return tz
    try:
        text = Path("/etc/timezone").read_text().strip()
        if text:
            return text
    except OSError:
        pass
    try:
        target = os.path.realpath("/etc/localtime")
    except OSError:
        return "UTC"
    for marker in _ZONEINFO_MARKERS:
        if marker in target:
            return target.split(marker, 1)[1]
    return "UTC"
