"""Measure the throttle against Azurite (bench/README.md, "Throttle").

Targets (issue 5, item 6):
  - throttled at 16Mbps, a 40 MiB upload averages within 10% of 2 MB/s (2,000,000 bytes a second);
  - unthrottled, uploads through Cairn's store reach at least 80% of the plain azure-storage-blob
    SDK's throughput on the same server.

The upload is what a backup sends: 8 MiB packs, put by two uploaders at once (a backup's two
worker processes). The throttled run is done twice: two threads sharing one wrapper, and two forked
processes sharing it (the wrapper's bucket is in shared memory), as a backup does.

Cairn's store is `open_store("azure://CONTAINER/PREFIX", credentials)`: the Azure backend.

    .venv/bin/python bench/throttle.py --azurite-bin PATH/node_modules/.bin/azurite-blob
    .venv/bin/python bench/throttle.py            # Azurite already on --port, or
                                                  # AZURE_STORAGE_CONNECTION_STRING set
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from azure.storage.blob import BlobServiceClient

from cairn.storage.blobstore import BlobStore
from cairn.storage.location import open_store
from cairn.storage.throttled import ThrottledBlobStore

# The public Azurite development account (not a secret).
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
PACK = 8 << 20


def dev_connection_string(port: int) -> str:
    return (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey={DEV_KEY};BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
    )


def cairn_store(conn: str, container: str, prefix: str) -> tuple[BlobStore, str]:
    location = f"azure://{container}/{prefix}"
    return open_store(location, {"connection_string": conn}), "open_store (the Azure backend)"


def upload_threads(put: Callable[[str, bytes], None], packs: list[bytes], tag: str) -> float:
    """Put every pack, two uploaders at once; the seconds it took."""
    halves = [packs[0::2], packs[1::2]]

    def run(n: int) -> None:
        for i, data in enumerate(halves[n]):
            put(f"{tag}/w{n}-{i:03d}", data)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def _child(store: BlobStore, packs: list[bytes], tag: str, n: int) -> None:
    for i, data in enumerate(packs):
        store.put(f"{tag}/p{n}-{i:03d}", data)


def upload_processes(store: BlobStore, packs: list[bytes], tag: str) -> float:
    """Put every pack from two forked processes sharing `store` (and its bucket)."""
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_child, args=(store, packs[n::2], tag, n)) for n in range(2)]
    start = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"an uploading process failed (exit code {p.exitcode})")
    return time.perf_counter() - start


def start_azurite(binary: str, port: int, workdir: Path) -> subprocess.Popen[bytes]:
    log = open(workdir / "azurite.log", "wb")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        [binary, "--blobHost", "127.0.0.1", "--blobPort", str(port), "--inMemoryPersistence",
         "--skipApiVersionCheck", "--loose", "--disableTelemetry", "--silent"],
        cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"Azurite did not start on port {port} (see {workdir / 'azurite.log'})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=10200, help="Azurite's port (default 10200)")
    ap.add_argument("--azurite-bin", help="start this azurite-blob for the run, then stop it")
    ap.add_argument("--mib", type=int, default=40, help="MiB to upload per run (default 40)")
    ap.add_argument("--rate-bps", type=int, default=16_000_000, help="throttled rate, bit/s")
    ap.add_argument("--rounds", type=int, default=9, help="unthrottled rounds (medians)")
    ap.add_argument("--json", dest="json_file", help="also write the figures here")
    args = ap.parse_args()

    server = None
    scratch = tempfile.TemporaryDirectory(prefix="cairn-throttle-bench-")
    if args.azurite_bin:
        server = start_azurite(args.azurite_bin, args.port, Path(scratch.name))
    conn = os.environ.get("AZURE_STORAGE_CONNECTION_STRING") or dev_connection_string(args.port)
    container = f"throttle-bench-{os.getpid()}"
    try:
        svc = BlobServiceClient.from_connection_string(conn)
        sdk = svc.get_container_client(container)
        sdk.create_container()
        store, which = cairn_store(conn, container, "cairn")
        packs = [os.urandom(PACK) for _ in range(args.mib * (1 << 20) // PACK)]
        total = sum(len(p) for p in packs)
        print(f"store: {which}; {len(packs)} packs of 8 MiB = {total:,} bytes", file=sys.stderr)

        def sdk_put(name: str, data: bytes) -> None:
            sdk.upload_blob(f"sdk/{name}", data, overwrite=True)

        unlimited = ThrottledBlobStore(store, lambda: None)
        upload_threads(sdk_put, packs[:2], "warm")  # connections and server warm
        upload_threads(store.put, packs[:2], "warm")
        puts: dict[str, Callable[[str, bytes], None]] = {
            "sdk": sdk_put,
            "store": store.put,
            "wrapper, no limit": unlimited.put,
        }
        runs: dict[str, list[float]] = {k: [] for k in puts}
        order = list(puts)
        for r in range(args.rounds):
            for key in order[r % 3 :] + order[: r % 3]:  # each goes first in turn
                runs[key].append(total / upload_threads(puts[key], packs, "unthrottled"))
            shown = ", ".join(f"{k} {v[-1] / 1e6:.1f} MB/s" for k, v in runs.items())
            print(f"round {r + 1}: {shown}", file=sys.stderr)
        medians = {k: statistics.median(v) for k, v in runs.items()}

        target = args.rate_bps / 8
        throttled = ThrottledBlobStore(store, lambda: target)
        t_threads = upload_threads(throttled.put, packs, "throttled-threads")
        throttled = ThrottledBlobStore(store, lambda: target)  # a fresh (full) bucket
        t_procs = upload_processes(throttled, packs, "throttled-procs")
        figures: dict[str, Any] = {
            "store": which,
            "bytes": total,
            "unthrottled_bytes_per_s": medians,
            "ratio_store_to_sdk": medians["store"] / medians["sdk"],
            "ratio_wrapper_to_sdk": medians["wrapper, no limit"] / medians["sdk"],
            "throttle_bytes_per_s_target": target,
            "throttled_threads_bytes_per_s": total / t_threads,
            "throttled_processes_bytes_per_s": total / t_procs,
        }
    finally:
        try:
            BlobServiceClient.from_connection_string(conn).delete_container(container)
        except Exception:
            pass
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        scratch.cleanup()

    ok = True
    print(f"| upload of {total / (1 << 20):.0f} MiB in 8 MiB packs, 2 at a time | MB/s | against |")
    print("| --- | --- | --- |")
    sdk_rate = medians["sdk"]
    print(f"| plain SDK (median of {args.rounds}) | {sdk_rate / 1e6:.1f} | |")
    for key in ("store", "wrapper, no limit"):
        ratio = medians[key] / sdk_rate
        ok &= ratio >= 0.8
        print(
            f"| {key} (median of {args.rounds}) | {medians[key] / 1e6:.1f}"
            f" | {ratio:.2f} x SDK (target >= 0.80) |"
        )
    for key, label in (
        ("throttled_threads_bytes_per_s", "threads"),
        ("throttled_processes_bytes_per_s", "forked processes"),
    ):
        ratio = figures[key] / target
        ok &= abs(ratio - 1) <= 0.10
        print(
            f"| throttled {args.rate_bps / 1e6:g}Mbps, 2 {label} | {figures[key] / 1e6:.3f}"
            f" | {ratio:.3f} x {target / 1e6:g} MB/s (target 0.90-1.10) |"
        )
    print(f"\nstore: {which}. {'All targets met.' if ok else 'A target was missed.'}")
    if args.json_file:
        Path(args.json_file).write_text(json.dumps(figures, indent=1) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
