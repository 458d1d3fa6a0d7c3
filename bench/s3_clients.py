"""boto3 against obstore on the same S3 server, to choose S3BlobStore's client.

Run with the test services started (`bash .ci/services.sh start`, then `. .ci-services/env`):

    .venv/bin/python bench/s3_clients.py [--rounds 5] [--big 24] [--small 300] [--threads 4]

Per round and per client, interleaved (boto3, obstore, boto3, ...): put then get of BIG objects of
8 MiB (one request each, and in parallel on THREADS threads as the backup's uploaders do), put and get
of SMALL objects of 2 KiB (one thread), and a listing of everything. Prints medians in MB/s and
requests per second. obstore cannot create buckets, so boto3 makes the bucket.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import obstore
from botocore.config import Config
from obstore.store import S3Store

MiB = 1 << 20


def boto3_ops(endpoint: str, key: str, secret: str, bucket: str) -> dict[str, Callable[..., Any]]:
    c = boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(s3={"addressing_style": "path"}, max_pool_connections=16),
    )
    c.create_bucket(Bucket=bucket)

    def put(name: str, data: bytes) -> None:
        c.put_object(Bucket=bucket, Key=name, Body=data)

    def get(name: str) -> bytes:
        return bytes(c.get_object(Bucket=bucket, Key=name)["Body"].read())

    def listing() -> int:
        n = 0
        for page in c.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            n += len(page.get("Contents", []))
        return n

    return {"put": put, "get": get, "list": listing}


def obstore_ops(endpoint: str, key: str, secret: str, bucket: str) -> dict[str, Callable[..., Any]]:
    s = S3Store(
        bucket,
        endpoint=endpoint,
        region="us-east-1",
        access_key_id=key,
        secret_access_key=secret,
        virtual_hosted_style_request=False,
        client_options={"allow_http": True},
    )

    def put(name: str, data: bytes) -> None:
        obstore.put(s, name, data)

    def get(name: str) -> bytes:
        return bytes(obstore.get(s, name).bytes())

    def listing() -> int:
        return sum(len(batch) for batch in obstore.list(s))

    return {"put": put, "get": get, "list": listing}


def one_round(ops: dict[str, Callable[..., Any]], args: argparse.Namespace) -> dict[str, float]:
    big = [os.urandom(8 * MiB) for _ in range(4)]
    small = os.urandom(2048)
    tag = secrets.token_hex(4)
    out: dict[str, float] = {}
    names = [f"big/{tag}/{i}" for i in range(args.big)]
    with ThreadPoolExecutor(args.threads) as pool:
        t = time.perf_counter()
        list(pool.map(lambda i: ops["put"](names[i], big[i % 4]), range(args.big)))
        out["put 8 MiB x threads MB/s"] = args.big * 8 * MiB / 1e6 / (time.perf_counter() - t)
        t = time.perf_counter()
        list(pool.map(ops["get"], names))
        out["get 8 MiB x threads MB/s"] = args.big * 8 * MiB / 1e6 / (time.perf_counter() - t)
    t = time.perf_counter()
    for n in names[:8]:
        ops["put"](n, big[0])
    out["put 8 MiB, 1 thread MB/s"] = 8 * 8 * MiB / 1e6 / (time.perf_counter() - t)
    t = time.perf_counter()
    for n in names[:8]:
        ops["get"](n)
    out["get 8 MiB, 1 thread MB/s"] = 8 * 8 * MiB / 1e6 / (time.perf_counter() - t)
    snames = [f"small/{tag}/{i}" for i in range(args.small)]
    t = time.perf_counter()
    for n in snames:
        ops["put"](n, small)
    out["put 2 KiB req/s"] = args.small / (time.perf_counter() - t)
    t = time.perf_counter()
    for n in snames:
        ops["get"](n)
    out["get 2 KiB req/s"] = args.small / (time.perf_counter() - t)
    t = time.perf_counter()
    count = ops["list"]()
    out[f"list ({count} objects) s"] = time.perf_counter() - t
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--big", type=int, default=24)
    ap.add_argument("--small", type=int, default=300)
    ap.add_argument("--threads", type=int, default=4)
    args = ap.parse_args()
    endpoint = os.environ["CAIRN_TEST_S3_ENDPOINT"]
    key = os.environ["CAIRN_TEST_S3_ACCESS_KEY_ID"]
    secret = os.environ["CAIRN_TEST_S3_SECRET_ACCESS_KEY"]
    bucket = "bench-clients-" + secrets.token_hex(4)
    clients = {
        "boto3": boto3_ops(endpoint, key, secret, bucket),
        "obstore": obstore_ops(endpoint, key, secret, bucket),
    }
    results: dict[str, list[dict[str, float]]] = {name: [] for name in clients}
    for r in range(args.rounds):
        order = list(clients) if r % 2 == 0 else list(reversed(clients))
        for name in order:
            results[name].append(one_round(clients[name], args))
    metrics = [k for k in results["boto3"][0] if not k.startswith("list")]
    print(f"| median of {args.rounds} rounds | boto3 | obstore | obstore/boto3 |")
    print("| --- | ---: | ---: | ---: |")
    for m in metrics:
        b = statistics.median(x[m] for x in results["boto3"])
        o = statistics.median(x[m] for x in results["obstore"])
        print(f"| {m} | {b:.1f} | {o:.1f} | {o / b:.2f} |")
    lb = statistics.median(
        next(v for k, v in x.items() if k.startswith("list")) for x in results["boto3"]
    )
    lo = statistics.median(
        next(v for k, v in x.items() if k.startswith("list")) for x in results["obstore"]
    )
    print(f"| list everything (last round: s) | {lb:.3f} | {lo:.3f} | {lo / lb:.2f} |")


if __name__ == "__main__":
    main()
