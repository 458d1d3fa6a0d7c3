"""Sizes and figures of the reliability suite (issue 16), shared by its tests and bench/soak.py.

The tests run a fast form in CI; `bench/soak.py` runs the same tests longer by setting
`CAIRN_SOAK_<NAME>` (the number of rounds, kills or flips) and collects the figures each test
records into the JSON-lines file named by `CAIRN_SOAK_REPORT`.
"""

from __future__ import annotations

import json
import os
from typing import Any


def scale(name: str, fast: int) -> int:
    """How many rounds (kills, flips) to run: `fast` unless the soak asks for more."""
    return int(os.environ.get(f"CAIRN_SOAK_{name.upper()}", fast))


def record(test: str, **figures: Any) -> None:
    """Append a test's figures to the soak report, if one is being written."""
    path = os.environ.get("CAIRN_SOAK_REPORT")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"test": test, **figures}) + "\n")
