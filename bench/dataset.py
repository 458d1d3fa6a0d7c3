"""Seeded, reproducible benchmark dataset for bench/compare.py.

At scale 1.0 the dataset is the "mixed" set that /work/shared/PERF-FACTS.md measured restic and
borg on: 30,000 small text-like files (0.5-16 KiB) in 310 nested folders, 200 medium files
(32 KiB-16 MiB, half random bytes, half compressible text) and two large disk-image-like files
(500 MiB each) in which about 30% of the segments repeat earlier ones, so that deduplication
inside one file matters. About 30,200 files and 1.7 GB in all.

`mutate` then changes about 1% of it: it edits 1% of the small files, overwrites a region of one
large file and appends to it, adds a few files and deletes a few.

Every byte comes from `random.Random` seeded with a string built from the seed and the item's
name, so the same `--seed` and `--scale` give the same tree (contents, sizes and mtimes) on every
run. Run it as

    python bench/dataset.py make DIR [--scale 0.1] [--seed 1]
    python bench/dataset.py mutate DIR [--scale 0.1] [--seed 1]   # once, after make
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

KIB = 1024
MIB = 1024 * KIB

SMALL_FILES = 30_000
DIR_FANOUT = (10, 5, 5)  # 10 + 50 + 250 = 310 folders at scale 1.0
SMALL_MIN, SMALL_MAX = 512, 16 * KIB
SMALL_EXTS = (".txt", ".py", ".md", ".json", ".log", ".csv", ".html", ".cfg")
MEDIUM_FILES = 200
MEDIUM_MIN, MEDIUM_MAX = 32 * KIB, 16 * MIB
LARGE_FILES = 2
LARGE_SIZE = 500 * MIB
SEGMENT_MIN, SEGMENT_MAX = 2 * MIB, 24 * MIB
REPEAT_SHARE = 0.3  # share of a large file's segments that copy an earlier segment
POOL_SIZE = 4 * MIB  # text pool that compressible content is cut from
VOCABULARY = 4096
MTIME_FROM = 1_672_531_200  # 2023-01-01: generated files get seeded mtimes in 2023
MTIME_SPAN = 365 * 86_400
WRITE_BLOCK = 8 * MIB

MUTATE_SMALL_SHARE = 0.01
MUTATE_ADD_SMALL = 30
MUTATE_ADD_MEDIUM = 2
MUTATE_DELETE_SMALL = 30
MUTATE_DELETE_MEDIUM = 1
MUTATE_REGION = 4 * MIB
MUTATE_APPEND = 8 * MIB


@dataclass(frozen=True)
class Item:
    """One file of the plan: its path below the root, its size and whether it compresses."""

    path: str
    size: int
    compressible: bool


@dataclass(frozen=True)
class Plan:
    dirs: list[str]
    small: list[Item]
    medium: list[Item]
    large: list[Item]


@dataclass
class Summary:
    files: int = 0
    dirs: int = 0
    bytes: int = 0

    def __str__(self) -> str:
        return f"{self.files:,} files, {self.dirs:,} folders, {self.bytes / 1e6:,.1f} MB"


def scaled(count: int, scale: float) -> int:
    return max(1, round(count * scale))


def item_rng(seed: int, name: str) -> random.Random:
    """A generator for one item; string seeds are hashed with SHA-512, so this is stable."""
    return random.Random(f"cairn-bench:{seed}:{name}")


def log_uniform(rng: random.Random, low: int, high: int) -> int:
    return round(math.exp(rng.uniform(math.log(low), math.log(high))))


def folder_names(scale: float) -> list[str]:
    """Nested folders, breadth first (so a small scale keeps the top levels)."""
    level = [""]
    names: list[str] = []
    for depth, fanout in enumerate(DIR_FANOUT):
        level = [
            f"{parent}{'/' if parent else ''}d{depth}{i}" for parent in level for i in range(fanout)
        ]
        names.extend(level)
    return names[: scaled(len(names), scale)]


def make_plan(scale: float, seed: int) -> Plan:
    rng = item_rng(seed, "plan")
    dirs = folder_names(scale)
    small = [
        Item(
            f"{rng.choice(dirs)}/f{i:05d}{rng.choice(SMALL_EXTS)}",
            log_uniform(rng, SMALL_MIN, SMALL_MAX),
            True,
        )
        for i in range(scaled(SMALL_FILES, scale))
    ]
    medium = [
        Item(
            f"{rng.choice(dirs)}/m{i:03d}{'.log' if i % 2 else '.bin'}",
            log_uniform(rng, MEDIUM_MIN, MEDIUM_MAX),
            bool(i % 2),
        )
        for i in range(scaled(MEDIUM_FILES, scale))
    ]
    large_size = max(4 * MIB, round(LARGE_SIZE * scale))
    large = [Item(f"images/disk{i}.img", large_size, False) for i in range(LARGE_FILES)]
    return Plan([*dirs, "images"], small, medium, large)


class TextPool:
    """Text-like bytes: pseudo-words with Zipf frequencies, cut into pieces with unique tags.

    Compressible content is a sequence of random slices of a 4 MiB pool separated by random tags,
    so it compresses like text (zstd-3: about 3x) but no two files or chunks share content.
    """

    def __init__(self, seed: int) -> None:
        rng = item_rng(seed, "pool")
        syllables = [a + b for a in "bcdfghklmnprstvwz" for b in "aeiou"]
        words = [
            "".join(rng.choices(syllables, k=rng.randint(1, 4))).encode() for _ in range(VOCABULARY)
        ]
        weights = list(accumulate(1 / (rank + 1) for rank in range(VOCABULARY)))
        punctuation = [b" ", b" ", b" ", b" ", b" ", b" ", b", ", b". ", b"\n", b" = ", b"_"]
        parts: list[bytes] = []
        size = 0
        while size < POOL_SIZE:
            for word in rng.choices(words, cum_weights=weights, k=4096):
                parts.append(word)
                parts.append(rng.choice(punctuation))
                size += len(word) + 2
        self.pool = b"".join(parts)

    def text(self, rng: random.Random, size: int) -> bytes:
        pieces: list[bytes] = []
        total = 0
        limit = len(self.pool) - 4 * KIB
        while total < size:
            start = rng.randrange(limit)
            piece = self.pool[start : start + rng.randint(256, 4 * KIB)]
            tag = b"\n%08x: " % rng.getrandbits(32)
            pieces.append(tag)
            pieces.append(piece)
            total += len(tag) + len(piece)
        return b"".join(pieces)[:size]

    def content(self, rng: random.Random, size: int, compressible: bool) -> bytes:
        return self.text(rng, size) if compressible else rng.randbytes(size)


def write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def set_mtime(path: Path, rng: random.Random) -> None:
    mtime = MTIME_FROM + rng.randrange(MTIME_SPAN)
    os.utime(path, (mtime, mtime))


def write_plain(root: Path, item: Item, pool: TextPool, seed: int) -> None:
    rng = item_rng(seed, item.path)
    if item.compressible:
        header = f"# {item.path} {rng.getrandbits(64):016x}\n".encode()
        data = (header + pool.text(rng, item.size))[: item.size]
    else:
        data = rng.randbytes(item.size)
    write_file(root / item.path, data)
    set_mtime(root / item.path, rng)


def write_large(root: Path, item: Item, pool: TextPool, seed: int) -> None:
    """Segments of 2-24 MiB (scaled); 30% of them repeat an earlier segment byte for byte."""
    rng = item_rng(seed, item.path)
    seg_max = max(64 * KIB, min(SEGMENT_MAX, item.size // 8))
    seg_min = max(32 * KIB, min(SEGMENT_MIN, seg_max // 4))
    unique: list[tuple[int, int]] = []  # (offset, length) of segments written fresh
    fd = os.open(root / item.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        offset = 0
        while offset < item.size:
            length = min(rng.randint(seg_min, seg_max), item.size - offset)
            if unique and rng.random() < REPEAT_SHARE:
                src_offset, src_length = rng.choice(unique)
                data = os.pread(fd, min(length, src_length), src_offset)
            else:
                data = pool.content(rng, length, rng.random() < 0.5)
                unique.append((offset, len(data)))
            os.pwrite(fd, data, offset)
            offset += len(data)
    finally:
        os.close(fd)
    set_mtime(root / item.path, rng)


def make(root: Path, scale: float = 1.0, seed: int = 1) -> Summary:
    """Writes the dataset into root, which must not exist or be empty."""
    root.mkdir(parents=True, exist_ok=True)
    if any(root.iterdir()):
        raise SystemExit(f"{root} is not empty")
    plan = make_plan(scale, seed)
    pool = TextPool(seed)
    for name in plan.dirs:
        (root / name).mkdir(parents=True, exist_ok=True)
    for item in plan.small + plan.medium:
        write_plain(root, item, pool, seed)
    for item in plan.large:
        write_large(root, item, pool, seed)
    dir_rng = item_rng(seed, "dir-mtimes")
    for name in sorted(plan.dirs, reverse=True):
        set_mtime(root / name, dir_rng)
    return measure(root)


def existing(root: Path, items: list[Item]) -> list[Item]:
    return [item for item in items if (root / item.path).is_file()]


def mutate_small(root: Path, items: list[Item], pool: TextPool, rng: random.Random) -> None:
    """Appends to, overwrites a region of, or rewrites each chosen file (a third each)."""
    for n, item in enumerate(items):
        path = root / item.path
        if n % 3 == 0:
            with open(path, "ab") as f:
                f.write(pool.text(rng, rng.randint(64, 1024)))
        elif n % 3 == 1:
            size = path.stat().st_size
            length = min(size, rng.randint(16, 512))
            with open(path, "r+b") as f:
                f.seek(rng.randrange(size - length + 1))
                f.write(pool.text(rng, length))
        else:
            write_file(path, pool.text(rng, log_uniform(rng, SMALL_MIN, SMALL_MAX)))


def mutate_large(root: Path, item: Item, pool: TextPool, rng: random.Random, scale: float) -> None:
    """Overwrites a region in the middle third of the file and appends new data to it."""
    path = root / item.path
    size = path.stat().st_size
    region = min(size // 4, max(64 * KIB, round(MUTATE_REGION * scale)))
    start = size // 3 + rng.randrange(size // 3)
    with open(path, "r+b") as f:
        f.seek(start)
        f.write(pool.content(rng, region, False))
        f.seek(0, os.SEEK_END)
        f.write(pool.content(rng, max(64 * KIB, round(MUTATE_APPEND * scale)), True))


def add_files(root: Path, plan: Plan, pool: TextPool, rng: random.Random, scale: float) -> None:
    (root / "new").mkdir(exist_ok=True)
    for i in range(scaled(MUTATE_ADD_SMALL, scale)):
        folder = "new" if i % 2 else rng.choice(plan.dirs)
        size = log_uniform(rng, SMALL_MIN, SMALL_MAX)
        write_file(root / folder / f"added{i:03d}.txt", pool.text(rng, size))
    for i in range(scaled(MUTATE_ADD_MEDIUM, scale)):
        size = log_uniform(rng, MIB, 4 * MIB)
        write_file(root / "new" / f"added{i:03d}.bin", pool.content(rng, size, bool(i % 2)))


def mutate(root: Path, scale: float = 1.0, seed: int = 1) -> Summary:
    """Changes about 1% of a dataset that `make` wrote with the same scale and seed."""
    plan = make_plan(scale, seed)
    pool = TextPool(seed)
    rng = item_rng(seed, "mutate")
    small = existing(root, plan.small)
    medium = existing(root, plan.medium)
    picked = rng.sample(
        small,
        min(
            len(small),
            scaled(round(SMALL_FILES * MUTATE_SMALL_SHARE), scale)
            + scaled(MUTATE_DELETE_SMALL, scale),
        ),
    )
    deleted_small = picked[: scaled(MUTATE_DELETE_SMALL, scale)]
    mutate_small(root, picked[len(deleted_small) :], pool, rng)
    mutate_large(root, plan.large[0], pool, rng, scale)
    add_files(root, plan, pool, rng, scale)
    smaller_half = sorted(medium, key=lambda item: item.size)[: max(1, len(medium) // 2)]
    doomed = deleted_small + rng.sample(smaller_half, min(len(medium), MUTATE_DELETE_MEDIUM))
    for item in doomed:
        (root / item.path).unlink()
    return measure(root)


def measure(root: Path) -> Summary:
    summary = Summary()
    for dirpath, dirnames, filenames in os.walk(root):
        summary.dirs += len(dirnames)
        summary.files += len(filenames)
        summary.bytes += sum(os.lstat(os.path.join(dirpath, name)).st_size for name in filenames)
    return summary


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["make", "mutate"])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--scale", type=float, default=1.0, help="size factor (default 1.0)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--force", action="store_true", help="make: delete DIR first")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    if args.action == "make":
        if args.force and args.dir.exists():
            shutil.rmtree(args.dir)
        summary = make(args.dir, args.scale, args.seed)
    else:
        summary = mutate(args.dir, args.scale, args.seed)
    print(f"{args.action}: {summary} in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
