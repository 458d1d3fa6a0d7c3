"""Cairn against restic on the same S3 server (SeaweedFS from .ci/services.sh), in the same run.

    bash bench/setup.sh                     # restic, if missing
    bash .ci/services.sh start && . .ci-services/env
    .venv/bin/python bench/cloud.py [--scale 0.25] [--rounds 3] [--azure]
    bash .ci/services.sh stop

Each round makes a fresh bucket per tool, then for each tool (the order alternates by round):
initial backup of the dataset from bench/dataset.py, then a full restore into an empty folder,
whose bytes are compared with the source. Prints the median times and cairn/restic (target <= 0.8).
With --azure, cairn also runs against Azurite; restic 0.14 cannot: its azure backend always builds
https://ACCOUNT.blob.core.windows.net and takes no custom endpoint, so there is no ratio there.
Times on a shared 2-core machine are noisy: compare the ratios of one run, not absolute times.

Every timed command starts after a sync, so no tool pays for writing back what the one before
it wrote. Restored trees are kept until the end of the run (they need rounds x tools x the
dataset's size on disk), because deleting one right before the next restore charges that restore
for the deletion: on an ext4 without a journal (this machine's root) the kernel skips every
inode deleted in the last minute on each new file, about half of a restore's CPU
(bench/README.md). --delete-between measures that condition instead. The kernel keeps an inode
"recent" for 60 s after its deletion, 360 s while its table block is unwritten, so a run started
within minutes of another (which deletes its trees at the end) is slower for both tools:
--settle waits before round 1, or put --workdir on a filesystem with a journal (no such skip).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dataset  # bench/dataset.py, beside this script

PASSPHRASE = "bench passphrase for cloud runs"


def need(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        sys.exit(f"{name} is not set: run `bash .ci/services.sh start && . .ci-services/env` first")
    return value


def digest(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = Path(dirpath, f)
            if p.is_symlink() or not p.is_file():
                continue
            out[str(p.relative_to(root))] = hashlib.blake2b(p.read_bytes()).hexdigest()
    return out


def run(cmd: list[str], env: dict[str, str]) -> float:
    os.sync()  # what an earlier command wrote is on disk before this one is timed
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - t
    if proc.returncode not in (0, 3):
        sys.exit(f"{' '.join(cmd[:3])} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return took


class Tool:
    def __init__(self, name: str, base: Path, args: argparse.Namespace) -> None:
        self.name = name
        self.base = base
        bucket = f"bench-{name}-{secrets.token_hex(4)}"
        clean = {
            k: v for k, v in os.environ.items() if not k.startswith(("CAIRN_", "RESTIC_", "AWS_"))
        }
        s3 = {
            "AWS_ACCESS_KEY_ID": need("CAIRN_TEST_S3_ACCESS_KEY_ID"),
            "AWS_SECRET_ACCESS_KEY": need("CAIRN_TEST_S3_SECRET_ACCESS_KEY"),
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        endpoint = need("CAIRN_TEST_S3_ENDPOINT")
        if name == "restic":
            self.repo = f"s3:{endpoint}/{bucket}/restic"
            self.env = clean | s3 | {"RESTIC_PASSWORD": PASSPHRASE}
            self.env["RESTIC_CACHE_DIR"] = str(base / "cache")
        elif name == "cairn-azure":
            self.repo = f"azure://{bucket}/cairn"
            conn = (
                "DefaultEndpointsProtocol=http;"
                f"AccountName={need('CAIRN_TEST_AZURE_ACCOUNT')};"
                f"AccountKey={need('CAIRN_TEST_AZURE_KEY')};"
                f"BlobEndpoint={need('CAIRN_TEST_AZURE_ENDPOINT')};"
            )
            self.env = clean | {"AZURE_STORAGE_CONNECTION_STRING": conn}
        else:
            self.repo = f"s3://{bucket}/cairn"
            self.env = clean | s3 | {"AWS_ENDPOINT_URL": endpoint}
        if name.startswith("cairn"):
            self.env |= {"CAIRN_HOME": str(base / "home"), "CAIRN_PASSPHRASE": PASSPHRASE}
        self.cairn = args.cairn
        self.restic = args.restic

    def init(self) -> None:
        if self.name == "restic":
            run([self.restic, "-r", self.repo, "init", "--repository-version", "2"], self.env)
        else:
            run([self.cairn, "vault", "create", self.repo], self.env)
            run([self.cairn, "register", self.repo], self.env)

    def backup(self, src: Path) -> float:
        if self.name == "restic":
            return run([self.restic, "-r", self.repo, "backup", str(src)], self.env)
        return run([self.cairn, "backup", str(src)], self.env)

    def restore(self, target: Path) -> float:
        if self.name == "restic":
            cmd = [self.restic, "-r", self.repo, "restore", "latest", "--target", str(target)]
        else:
            cmd = [self.cairn, "restore", "latest", "--target", str(target)]
        return run(cmd, self.env)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=0.25, help="dataset size (1.0 is ~1.7 GB)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--azure", action="store_true", help="also time cairn on Azurite")
    ap.add_argument("--cairn", default=str(Path(sys.executable).with_name("cairn")))
    ap.add_argument("--restic", default="restic")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    ap.add_argument(
        "--delete-between",
        action="store_true",
        help="delete each restored tree at once, so the next restore runs right after a mass"
        " deletion (the condition of the runs before 2026-11-25)",
    )
    ap.add_argument("--settle", type=float, default=0.0, help="seconds to wait before round 1")
    args = ap.parse_args()
    os.sync()
    settle_until = time.monotonic() + args.settle
    work = Path(tempfile.mkdtemp(prefix="cairn-cloud-bench-", dir=args.workdir))
    try:
        src = work / "data"
        summary = dataset.make(src, args.scale, args.seed)
        print(f"dataset: {summary}", file=sys.stderr)
        want = digest(src)
        names = ["cairn", "restic"] + (["cairn-azure"] if args.azure else [])
        if not args.delete_between:
            size = sum(p.stat().st_size for p in src.rglob("*") if p.is_file())
            need_bytes = int(size * 1.1) * len(names) * args.rounds
            free = shutil.disk_usage(work).free
            if free < need_bytes + (1 << 30):
                sys.exit(
                    f"{work} has {free / 1e9:.1f} GB free; keeping every restored tree needs"
                    f" {need_bytes / 1e9:.1f} GB: use --workdir, fewer --rounds or --delete-between"
                )
        times: dict[str, dict[str, list[float]]] = {n: {"backup": [], "restore": []} for n in names}
        if (wait := settle_until - time.monotonic()) > 0:
            print(
                f"waiting {wait:.0f} s for earlier deletions to settle (--settle)", file=sys.stderr
            )
            time.sleep(wait)
        for r in range(args.rounds):
            order = names if r % 2 == 0 else [names[1], names[0], *names[2:]]
            for name in order:
                base = work / f"{name}-{r}"
                base.mkdir()
                tool = Tool(name, base, args)
                tool.init()
                b = tool.backup(src)
                target = base / "restore"
                t = tool.restore(target)
                got = digest(target / src.relative_to(src.anchor))
                if got != want:
                    sys.exit(f"{name}: the restored bytes differ from the source")
                times[name]["backup"].append(b)
                times[name]["restore"].append(t)
                print(f"round {r + 1} {name}: backup {b:.2f} s, restore {t:.2f} s", file=sys.stderr)
                if args.delete_between:
                    shutil.rmtree(base)
        print(f"\n| step (median of {args.rounds}, s) | " + " | ".join(names) + " | cairn/restic |")
        print("| --- |" + " ---: |" * (len(names) + 1))
        for step in ("backup", "restore"):
            med = {n: statistics.median(times[n][step]) for n in names}
            cells = " | ".join(f"{med[n]:.2f}" for n in names)
            print(f"| {step} | {cells} | {med['cairn'] / med['restic']:.2f} |")
        for step in ("backup", "restore"):
            per_round = [
                c / s for c, s in zip(times["cairn"][step], times["restic"][step], strict=True)
            ]
            print(f"{step} cairn/restic per round: " + ", ".join(f"{x:.2f}" for x in per_round))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
