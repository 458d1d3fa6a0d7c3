"""`cairn offline prep`: copy the staging folder onto disks (folders standing for mounted disks),
split by each disk's room, with a manifest per disk (engine/offline_manifest.py).

1. Plan, before writing anything: every staging file (locks aside) in a fixed order (the
   staging marker, vault.json, config, key files, then packs, index segments, points), each
   counted at its size rounded up to whole 4 KiB blocks, is given to the first disk with room
   left. A disk's room is its free space (shared with the other disks on the same file system)
   capped by `--disk-size`, less what the plan, the journal and the manifest will take. If the
   disks together are too small, `NoSpace` (exit 13) says how much is missing, and nothing is
   written.
2. The plan goes onto every disk (`plan.json`), then the files are copied: each to a temp name,
   hashed (SHA-256) while read from staging, fsync'd, renamed, its cached pages dropped, then
   read back from the disk and hashed again; only a file whose two hashes agree goes into the
   disk's journal (`copied.jsonl`, fsync'd). A prep killed at any moment (kill -9) and run again
   with the same disks finds the plan and the journal, and copies only what the journal lacks.
3. When every file of a disk is in its journal, its manifest is written (last, atomically).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cairn.core.errors import CairnError, NoSpace, UsageError
from cairn.core.events import Progress, Reporter
from cairn.core.ids import random_id
from cairn.core.units import format_bytes
from cairn.engine import crashpoint
from cairn.engine.offline import STAGING_FILE, STAGING_FORMAT
from cairn.engine.offline_manifest import (
    DATA,
    FOLDER,
    FORMAT,
    JOURNAL,
    MANIFEST,
    PLAN,
    VERSION,
    fsync_dir,
    kind_of,
    sealed_json,
    summary,
    write_file,
)
from cairn.storage.local import LocalBlobStore

BLOCK = 4096
CHUNK = 1 << 20
RESERVE_BYTES = 256 << 10
PER_FILE_BYTES = 600
"""Room kept on each disk per file of the whole set: its line in the plan, and (for its own
files) in the journal and the manifest."""

_ORDER = ("staging marker", "vault file", "store config", "key file", "pack", "index segment")


@dataclass
class PrepOptions:
    staging: Path
    disks: list[Path]
    disk_size: int | None = None


@dataclass
class PrepResult:
    import_job: str
    disks: list[dict[str, Any]] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    copied_files: int = 0
    copied_bytes: int = 0
    reused_files: int = 0
    resumed: bool = False
    duration_s: float = 0.0


def blocks(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


def staging_marker(staging: Path) -> dict[str, Any]:
    path = staging / STAGING_FILE
    try:
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise UsageError(
            f"{staging} is not a staging folder (no {STAGING_FILE}): give the [offline] staging"
            " folder of the policy, after its first backup"
        ) from None
    except (OSError, ValueError) as e:
        raise CairnError(f"cannot read {path}: {e}") from None
    if not isinstance(doc, dict) or doc.get("format") != STAGING_FORMAT:
        raise UsageError(f"{path} is not a Cairn staging marker")
    return doc


def staging_files(staging: Path) -> list[dict[str, Any]]:
    """The files to copy, in the plan's order; the locks of a backup stay behind."""
    out = []
    for info in LocalBlobStore(str(staging)).list(""):
        if "/locks/" in info.name:
            continue
        out.append({"name": info.name, "size": info.size})

    def order(f: dict[str, Any]) -> tuple[int, str]:
        kind = kind_of(f["name"])
        return (_ORDER.index(kind) if kind in _ORDER else len(_ORDER), f["name"])

    out.sort(key=order)
    return out


def split(files: list[dict[str, Any]], rooms: list[int]) -> list[list[dict[str, Any]]]:
    """Files to disks, first fit in order; `NoSpace` naming how much is missing."""
    reserve = RESERVE_BYTES + PER_FILE_BYTES * len(files)
    left = [max(room - reserve, 0) for room in rooms]
    largest = max(left, default=0)
    out: list[list[dict[str, Any]]] = [[] for _ in rooms]
    unplaced = []
    n = 0
    for f in files:
        need = blocks(f["size"]) + PER_FILE_BYTES
        fits = next((i for i in range(n, len(left)) if left[i] >= need), None)
        if fits is None:
            unplaced.append(f)
            continue
        n = fits
        left[n] -= need
        out[n].append(f)
    if not unplaced:
        return out
    needed = sum(blocks(f["size"]) + PER_FILE_BYTES for f in files) + reserve * len(rooms)
    have = sum(rooms)
    too_big = [f for f in unplaced if blocks(f["size"]) + PER_FILE_BYTES > largest]
    if too_big and needed <= have:
        f = too_big[0]
        raise NoSpace(
            f"the disks are too small: {f['name']} ({kind_of(f['name'])},"
            f" {format_bytes(f['size'])}) does not fit on any one disk (the largest has"
            f" {format_bytes(largest)} of room for files): use larger disks. Nothing was written"
        )
    missing = max(needed - have, sum(blocks(f["size"]) + PER_FILE_BYTES for f in unplaced))
    raise NoSpace(
        f"the disks are too small: the staging needs {format_bytes(needed)} on"
        f" {len(rooms)} disk(s), which have {format_bytes(have)} of room together;"
        f" {format_bytes(missing)} is missing ({len(unplaced)} of {len(files)} files do not"
        " fit): add a disk (--disk DIR) or use larger ones. Nothing was written"
    )


def rooms(disks: list[Path], disk_size: int | None) -> list[int]:
    """Each disk's room: its free space, shared between disks on one file system, capped."""
    free_left: dict[int, int] = {}
    out = []
    for disk in disks:
        dev = os.stat(disk).st_dev
        if dev not in free_left:
            free_left[dev] = shutil.disk_usage(disk).free
        room = free_left[dev] if disk_size is None else min(disk_size, free_left[dev])
        free_left[dev] -= room
        out.append(room)
    return out


def check_disks(staging: Path, disks: list[Path]) -> None:
    if not disks:
        raise UsageError("name at least one disk: --disk DIR (repeatable)")
    seen: set[str] = set()
    for disk in disks:
        real = os.path.realpath(disk)
        if real in seen:
            raise UsageError(f"--disk {disk} is named twice")
        seen.add(real)
        if not disk.is_dir():
            raise UsageError(f"--disk {disk}: no such folder (mount the disk, or create it)")
        stage = os.path.realpath(staging)
        if real == stage or real.startswith(stage + "/") or stage.startswith(real + "/"):
            raise UsageError(f"--disk {disk} overlaps the staging folder {staging}")
        if not os.access(disk, os.W_OK):
            raise UsageError(f"--disk {disk} is not writable")


def read_plan(disk: Path) -> dict[str, Any] | None:
    path = disk / FOLDER / PLAN
    try:
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        if (disk / FOLDER / MANIFEST).exists():
            raise UsageError(
                f"{disk} holds a finished disk without its plan: empty {disk / FOLDER}"
            ) from None
        return None
    except (OSError, ValueError) as e:
        raise CairnError(
            f"{path} is damaged ({e}): remove {disk / FOLDER} and run prep again"
        ) from None
    if not isinstance(doc, dict):
        raise CairnError(f"{path} is damaged: remove {disk / FOLDER} and run prep again")
    return doc


def journal(disk: Path) -> dict[str, dict[str, Any]]:
    """The files this disk's journal says are copied and verified (a torn last line ignored)."""
    out: dict[str, dict[str, Any]] = {}
    try:
        text = (disk / FOLDER / JOURNAL).read_text()
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        try:
            entry = json.loads(line)
            out[str(entry["name"])] = entry
        except (ValueError, KeyError, TypeError):
            continue
    return out


class _Prep:
    def __init__(self, staging: Path, reporter: Reporter, total: dict[str, int]) -> None:
        self.staging = staging
        self.reporter = reporter
        self.progress = Progress(
            "offline prep", files_total=total["files"], bytes_total=total["bytes"]
        )

    def copy(self, disk: Path, f: dict[str, Any]) -> dict[str, Any]:
        """Copy one file, read it back, and return its journal entry."""
        name, size = f["name"], int(f["size"])
        source = self.staging / Path(*name.split("/"))
        target = disk / FOLDER / DATA / Path(*name.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        digest = hashlib.sha256()
        copied = 0
        try:
            with open(source, "rb") as src, open(tmp, "wb") as dst:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    dst.write(chunk)
                    copied += len(chunk)
                    self.progress.bytes_done += len(chunk)
                    self.reporter.progress(self.progress)
                dst.flush()
                os.fsync(dst.fileno())
            os.replace(tmp, target)
            fsync_dir(target.parent)
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EDQUOT):
                raise NoSpace(
                    f"the disk {disk} is full (copying {name}): run prep again with a larger"
                    " disk set; it resumes"
                ) from None
            raise CairnError(f"copying {name} to {disk} failed: {e.strerror}") from None
        if copied != size:
            raise CairnError(
                f"{source} changed size while copied ({size} listed, {copied} read): the"
                " staging folder must not change during prep"
            )
        expected = digest.hexdigest()
        if read_back(target) != expected:
            raise CairnError(
                f"{target} does not read back as written (SHA-256 differs): the disk {disk} is"
                " failing; use another disk"
            )
        return {"name": name, "size": size, "sha256": expected}


def read_back(path: Path) -> str:
    """The SHA-256 of a file as the disk gives it back (its cached pages dropped first)."""
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY)
    try:
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        with os.fdopen(fd, "rb", closefd=False) as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
    finally:
        os.close(fd)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def prep(options: PrepOptions, now: str, reporter: Reporter | None = None) -> PrepResult:
    """Copy the staging folder onto the disks (see the module docstring)."""
    reporter = reporter or Reporter()
    started = time.monotonic()
    staging, disks = options.staging, list(options.disks)
    marker = staging_marker(staging)
    check_disks(staging, disks)
    files = staging_files(staging)
    points = [f for f in files if kind_of(f["name"]) == "recovery point"]
    if len(points) != 1:
        raise UsageError(
            f"the staging folder {staging} holds {len(points)} recovery points, not one: its"
            " first backup has not finished (run `cairn backup`)"
        )
    plans = [read_plan(d) for d in disks]
    resumed = any(p is not None for p in plans)
    if resumed:
        plan, disks = _resume(marker, disks, plans)
    else:
        assigned = split(files, rooms(disks, options.disk_size))
        plan = {
            "id": random_id(),
            "import_job": marker["import_job"],
            "vault_id": marker["vault_id"],
            "machine": marker["machine"],
            "point": points[0]["name"].rsplit("/", 1)[1],
            "created": now,
            "disks": [[f["name"] for f in part] for part in assigned],
            "sizes": {f["name"]: f["size"] for f in files},
        }
        for disk in disks:
            (disk / FOLDER).mkdir(exist_ok=True)
        for n, disk in enumerate(disks, start=1):
            write_file(disk / FOLDER / PLAN, json.dumps(plan | {"disk": n}).encode())
    parts: list[list[dict[str, Any]]] = [
        [{"name": n, "size": plan["sizes"][n]} for n in names] for names in plan["disks"]
    ]
    everything = [f for part in parts for f in part]
    result = PrepResult(marker["import_job"], resumed=resumed)
    result.files, result.bytes = len(everything), sum(f["size"] for f in everything)
    run = _Prep(staging, reporter, {"files": result.files, "bytes": result.bytes})
    entries: list[list[dict[str, Any]]] = []
    for n, (disk, part) in enumerate(zip(disks, parts, strict=True), start=1):
        done = journal(disk)
        mine = []
        for f in part:
            reporter.stop_if_cancelled()
            entry = done.get(f["name"])
            target = disk / FOLDER / DATA / Path(*f["name"].split("/"))
            if entry is not None and entry.get("size") == f["size"] and _size(target) == f["size"]:
                result.reused_files += 1
                run.progress.bytes_done += f["size"]
            else:
                entry = run.copy(disk, f)
                _append(disk / FOLDER / JOURNAL, entry)
                crashpoint.wrote()  # the test hook for kill -9 in the middle
                result.copied_files += 1
                result.copied_bytes += f["size"]
            run.progress.files_done += 1
            run.progress.current = f["name"]
            reporter.progress(run.progress)
            mine.append({"name": f["name"], "size": f["size"], "sha256": entry["sha256"]})
        entries.append(mine)
        result.disks.append({"disk": n, "path": str(disk), **summary(mine)})
    contents = [{"disk": n, **summary(e)} for n, e in enumerate(entries, start=1)]
    for n, (disk, mine) in enumerate(zip(disks, entries, strict=True), start=1):
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "import_job": plan["import_job"],
            "vault_id": plan["vault_id"],
            "machine": plan["machine"],
            "point": plan["point"],
            "plan": plan["id"],
            "disk": n,
            "disks": len(disks),
            "created": now,
            "contents": contents,
            "files": mine,
        }
        write_file(disk / FOLDER / MANIFEST, sealed_json(manifest))
    result.duration_s = time.monotonic() - started
    return result


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _append(path: Path, entry: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry, separators=(",", ":")) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _resume(
    marker: dict[str, Any], disks: list[Path], plans: list[dict[str, Any] | None]
) -> tuple[dict[str, Any], list[Path]]:
    """The plan of an earlier prep of these disks, and the disks in its order."""
    first = next(p for p in plans if p is not None)
    for disk, plan in zip(disks, plans, strict=True):
        if plan is None:
            raise UsageError(
                f"{disk} is not part of the unfinished prep of import job"
                f" {first.get('import_job')!r} that the other disks hold: give the same disks as"
                " before (or empty their cairn-offline folders to start over)"
            )
        if (
            plan.get("import_job") != marker["import_job"]
            or plan.get("vault_id") != marker["vault_id"]
        ):
            raise UsageError(
                f"{disk} holds the prep of import job {plan.get('import_job')!r} (vault"
                f" {plan.get('vault_id')}), not of this staging's {marker['import_job']!r}: use"
                f" another disk, or empty {disk / FOLDER}"
            )
        if plan.get("id") != first.get("id"):
            raise UsageError(
                f"{disk} holds another prep of import job {plan.get('import_job')!r} than the"
                " other disks: give the disks of one prep"
            )
    count = len(first["disks"])
    numbers = sorted(int(p["disk"]) for p in plans if p is not None)
    if numbers != list(range(1, count + 1)):
        raise UsageError(
            f"the unfinished prep of import job {first['import_job']!r} was split over {count}"
            f" disks; give all {count} (--disk DIR each), as before"
        )
    by_number = {int(p["disk"]): d for p, d in zip(plans, disks, strict=True) if p is not None}
    return first, [by_number[n] for n in range(1, count + 1)]
