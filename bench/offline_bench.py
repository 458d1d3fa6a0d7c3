"""Offline seeding against a plain backup of the same data (bench/README.md, "Offline seeding").

On one dataset (bench/dataset.py), through the real `cairn` command, each in its own CAIRN_HOME
and vault:

  plain     `cairn backup` straight into a local vault
  staging   the first backup with `initial_backup = "offline"`: into the staging folder
  prep      `cairn offline prep` onto two disks (folders; `--disk-size` splits the set in two)
  import    `cairn offline import` of both disks into the vault
  next      the backup after the import: incremental against the imported point

Each step is timed as a whole command (start-up included) and given in MB/s of the dataset's
bytes (1 MB = 10^6 bytes). `--vault` takes an azure:// or s3:// location prefix for the import's
vault (credentials from the environment), else both vaults are local folders.

    .venv/bin/python bench/offline_bench.py --scale 0.1
    .venv/bin/python bench/offline_bench.py --scale 0.1 --json /tmp/offline.json
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dataset

PASSPHRASE = "offline bench passphrase 1234"


class Cairn:
    def __init__(self, home: Path) -> None:
        self.home = home

    def run(self, *args: str) -> tuple[float, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
        env.update(CAIRN_HOME=str(self.home), CAIRN_PASSPHRASE=PASSPHRASE)
        cmd = [sys.executable, "-m", "cairn.cli.main", *args]
        started = time.monotonic()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
        took = time.monotonic() - started
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(args)} exited {proc.returncode}: {proc.stderr}")
        return took, proc.stdout


def policy(src: Path, staging: Path) -> str:
    return f"""
[policy]
items = [{json.dumps(str(src))}]
timezone = "UTC"
initial_backup = "offline"

[offline]
staging = {json.dumps(str(staging))}
import_job = "bench"

[schedule]
frequency = "daily"
times = ["21:00"]

[retention.daily]
days = 30
"""


def folder_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def bench(work: Path, scale: float, seed: int, vault_prefix: str | None) -> dict[str, Any]:
    src = work / "data"
    summary = dataset.make(src, scale, seed)
    size = summary.bytes
    print(f"dataset: {summary}", file=sys.stderr)
    out: dict[str, Any] = {"dataset_bytes": size, "dataset": str(summary), "steps": {}}

    def location(name: str) -> str:
        if vault_prefix:
            return f"{vault_prefix.rstrip('/')}/{name}-{secrets.token_hex(4)}"
        return str(work / name)

    def step(name: str, took: float, nbytes: int = size, **extra: Any) -> None:
        out["steps"][name] = {"seconds": round(took, 3), "mb_s": round(nbytes / took / 1e6, 1)}
        out["steps"][name].update(extra)
        print(f"{name}: {took:.2f} s, {nbytes / took / 1e6:.1f} MB/s", file=sys.stderr)

    plain = Cairn(work / "home-plain")
    plain_vault = location("vault-plain")
    plain.run("vault", "create", plain_vault)
    plain.run("register", plain_vault, "--machine", "plain")
    took, text = plain.run("backup", str(src), "--json")
    step("plain backup", took, stored=json.loads(text)["stats"]["bytes_stored"])

    seeded = Cairn(work / "home-offline")
    vault = location("vault-offline")
    seeded.run("vault", "create", vault)
    seeded.run("register", vault, "--machine", "seeded")
    staging = work / "staging"
    (work / "policy.toml").write_text(policy(src, staging))
    seeded.run("policy", "set", "--file", str(work / "policy.toml"))
    took, _ = seeded.run("backup", "--json")
    staged = folder_size(staging)
    step("staging backup", took, staged_bytes=staged)

    disks = [work / "disk1", work / "disk2"]
    for d in disks:
        d.mkdir()
    half = staged // 2 + (64 << 20)
    args = [a for d in disks for a in ("--disk", str(d))]
    took, text = seeded.run(
        "offline", "prep", "--staging", str(staging), *args, "--disk-size", str(half), "--json"
    )
    step("prep (2 disks)", took, disk_files=[d["files"] for d in json.loads(text)["disks"]])
    took, text = seeded.run("offline", "import", *args, "--json")
    step("import (2 disks)", took, uploaded_bytes=json.loads(text)["uploaded_bytes"])
    took, text = seeded.run("backup", "--json")
    step("next backup", took, uploaded_bytes=json.loads(text)["stats"]["bytes_stored"])
    plain_s = out["steps"]["plain backup"]["seconds"]
    seeding_s = sum(
        out["steps"][k]["seconds"] for k in ("staging backup", "prep (2 disks)", "import (2 disks)")
    )
    out["seeding_total_seconds"] = round(seeding_s, 3)
    out["seeding_vs_plain"] = round(seeding_s / plain_s, 2)
    return out


def table(result: dict[str, Any]) -> str:
    plain = result["steps"]["plain backup"]["mb_s"]
    lines = [
        f"dataset: {result['dataset']}",
        "",
        "| step | seconds | MB/s of the dataset | against the plain backup |",
        "| --- | --- | --- | --- |",
    ]
    for name, s in result["steps"].items():
        ratio = "" if name == "plain backup" else f"{s['mb_s'] / plain:.2f}x"
        lines.append(f"| {name} | {s['seconds']:.2f} | {s['mb_s']:.1f} | {ratio} |")
    lines.append(
        f"| staging + prep + import | {result['seeding_total_seconds']:.2f} | | "
        f"{result['seeding_vs_plain']:.2f}x the time |"
    )
    nxt = result["steps"]["next backup"]["uploaded_bytes"]
    lines += ["", f"the backup after the import uploaded {nxt:,} bytes"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.1, help="dataset size (1.0: ~1.7 GB)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--vault", default=None, help="azure:// or s3:// prefix for the vaults")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="cairn-offline-bench-", dir=args.workdir))
    try:
        result = bench(work, args.scale, args.seed, args.vault)
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(table(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
