"""The console under a long history: the dashboard and the jobs page served by a real agent with
10,000 jobs and 1,000 recovery points; time to first byte (and to the last) over real HTTP.

    .venv/bin/python bench/console_bench.py [--jobs 10000] [--points 1000] [--rounds 20]

It makes a CAIRN_HOME and a local vault in a temp folder: one real backup, then `--points - 1`
copies of its recovery point at earlier times (same tree, new ids: a valid vault, which the
run checks at the end), and `--jobs` finished jobs in the history; then starts `cairn agent run`,
logs in with a one-time token (as `cairn console` does) and times each page `--rounds` times.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cairn.agent.client import AgentClient
from cairn.agent.jobstore import JobStore
from cairn.core.clock import SystemClock
from cairn.core.ids import random_id
from cairn.engine.check import check
from cairn.engine.home import Home
from cairn.engine.ondemand import BackupRequest, back_up
from cairn.engine.session import create_vault, open_repository, register

PASSPHRASE = "console bench passphrase"
PAGES = ["/", "/jobs", "/jobs?offset=9950", "/jobs?kind=backup&state=failed"]


def populate(root: Path, jobs: int, points: int) -> Home:
    clock = SystemClock()
    home = Home(root / "home")
    data = root / "data"
    data.mkdir()
    for i in range(50):
        (data / f"file{i}.txt").write_text(f"bench file {i}\n" * 500)
    create_vault(str(root / "vault"), clock)
    register(home, str(root / "vault"), clock, machine="benchbox", passphrase=PASSPHRASE)
    repo = open_repository(home, clock)
    first = back_up(home, repo, BackupRequest([str(data)])).point
    now = datetime.now(UTC)
    for i in range(1, points):
        repo.save_point(
            dataclasses.replace(first, id=random_id(), time=now - timedelta(hours=12 * i))
        )
    store = JobStore.in_home(home.path)
    try:
        kinds = ("backup", "backup", "backup", "prune", "check")
        for i in range(jobs):
            at = now - timedelta(minutes=12 * i)  # within the 90 days the agent keeps
            job = store.create(kinds[i % len(kinds)], "scheduled", at, state="running")
            state = "failed" if i % 97 == 0 else "completed"
            store.finish(
                job.id,
                state,
                at + timedelta(minutes=3),
                error="bench" if state == "failed" else None,
            )
    finally:
        store.close()
    return home


def timed_get(port: int, path: str, cookie: str) -> tuple[float, float, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        start = time.perf_counter()
        conn.request("GET", path, headers={"Host": f"127.0.0.1:{port}", "Cookie": cookie})
        response = conn.getresponse()
        first = time.perf_counter() - start
        body = response.read()
        assert response.status == 200, (path, response.status)
        return first, time.perf_counter() - start, len(body)
    finally:
        conn.close()


def login(home: Path, port: int) -> str:
    client = AgentClient.find(home)
    assert client is not None
    token = client.console_token()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", f"/login?token={token}", headers={"Host": f"127.0.0.1:{port}"})
        response = conn.getresponse()
        response.read()
        cookie = response.getheader("Set-Cookie") or ""
        assert response.status == 303 and cookie, response.status
        return cookie.split(";", 1)[0]
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cairn-console-bench-") as tmp:
        started = time.perf_counter()
        home = populate(Path(tmp), args.jobs, args.points)
        print(f"populated in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        env = {**os.environ, "CAIRN_HOME": str(home.path), "CAIRN_PASSPHRASE": PASSPHRASE}
        agent = subprocess.Popen(
            [sys.executable, "-m", "cairn.cli.main", "agent", "run", "--no-setup"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while AgentClient.find(home.path) is None:
                if time.monotonic() > deadline or agent.poll() is not None:
                    raise SystemExit("the agent did not start")
                time.sleep(0.1)
            port = int(json.loads((home.path / "agent.json").read_text())["port"])
            history = JobStore.in_home(home.path)
            kept = len(history.jobs())
            history.close()
            assert kept == args.jobs, f"the agent kept {kept} of {args.jobs} jobs"
            cookie = login(home.path, port)
            rows = []
            for path in PAGES:
                timed_get(port, path, cookie)  # warm up
                runs = [timed_get(port, path, cookie) for _ in range(args.rounds)]
                firsts = sorted(r[0] for r in runs)
                rows.append(
                    {
                        "page": path,
                        "ttfb_median_ms": round(statistics.median(firsts) * 1000, 1),
                        "ttfb_p95_ms": round(firsts[int(0.95 * (len(firsts) - 1))] * 1000, 1),
                        "total_median_ms": round(statistics.median(r[1] for r in runs) * 1000, 1),
                        "bytes": runs[-1][2],
                    }
                )
        finally:
            agent.terminate()
            agent.wait(60)
        result = check(open_repository(home, SystemClock()))
        assert result.errors == [], result.errors
    print(f"{args.jobs} jobs, {args.points} recovery points, {args.rounds} rounds per page\n")
    print("| page | TTFB median | TTFB p95 | whole page, median | size |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| `{r['page']}` | {r['ttfb_median_ms']} ms | {r['ttfb_p95_ms']} ms"
            f" | {r['total_median_ms']} ms | {r['bytes']:,} B |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
