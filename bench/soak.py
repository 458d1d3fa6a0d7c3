"""The reliability soak (issue 16; bench/README.md, "Reliability soak").

Runs the reliability tests of `make test` longer: the same tests, with the sizes of
`tests/reliability.py` raised through `CAIRN_SOAK_*`, and every recovery point restored after
every kill. Each test records its figures; this prints them and the failures found, and writes
them as JSON (`--out`).

    .venv/bin/python bench/soak.py                 # the sizes below
    .venv/bin/python bench/soak.py --rounds 2      # twice as much of everything
    make soak

A failing test is a failure found: its name and pytest's last lines are in the report, and the
script exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Per round: flaky round trips, kills of each kind, random flips.
SIZES = {
    "flaky_rounds": 500,
    "kills_backup": 60,
    "kills_prune": 100,
    "kills_passphrase": 20,
    "kills_agent": 20,
    "flips": 200,
}

TESTS = [
    "tests/engine/test_flaky_storage.py::test_round_trips_through_flaky_eventually_consistent_storage",
    "tests/cli/test_crash.py::test_kill_9_at_every_moment_of_backup_and_prune",
    "tests/cli/test_crash.py::test_kill_9_at_every_moment_of_a_passphrase_change",
    "tests/cli/test_crash.py::test_kill_9_at_every_moment_of_the_agent_running_a_backup",
    "tests/engine/test_bitflips.py::test_50_random_flips_and_truncations_are_found_contained_and_repaired",
    "tests/cli/test_disk_full.py",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=float, default=1.0, help="scale every size by this")
    parser.add_argument("--out", type=Path, default=None, help="write the figures here (JSON)")
    args = parser.parse_args()
    sizes = {k: max(1, round(v * args.rounds)) for k, v in SIZES.items()}
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.jsonl"
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT / "src") + os.pathsep + str(ROOT),
            "CAIRN_SOAK_REPORT": str(report),
            "CAIRN_SOAK_RESTORE_EVERY_POINT": "1",
            **{f"CAIRN_SOAK_{k.upper()}": str(v) for k, v in sizes.items()},
        }
        failures = []
        timings = {}
        for test in TESTS:
            started = time.monotonic()
            proc = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
            )
            timings[test] = round(time.monotonic() - started, 1)
            print(f"{'ok  ' if proc.returncode == 0 else 'FAIL'} {timings[test]:7.1f}s  {test}")
            if proc.returncode != 0:
                failures.append({"test": test, "output": proc.stdout[-3000:] + proc.stderr[-2000:]})
        figures = (
            [json.loads(line) for line in report.read_text().splitlines()]
            if report.exists()
            else []
        )
    result = {"sizes": sizes, "figures": figures, "seconds": timings, "failures": failures}
    print(json.dumps({k: v for k, v in result.items() if k != "failures"}, indent=1))
    for f in failures:
        print(f"\n--- {f['test']}\n{f['output']}")
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
