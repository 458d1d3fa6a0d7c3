"""What `cairn offline prep` writes on each disk, and how `cairn offline import` reads it back
(docs/offline.md, "Disks").

    DISK/cairn-offline/plan.json       the whole split, written on every disk before any copy
    DISK/cairn-offline/copied.jsonl    one line per file copied and read back (the resume journal)
    DISK/cairn-offline/data/<name>     the staging's files, under their vault names
    DISK/cairn-offline/manifest.json   written last, once every file of the disk is verified

A manifest is JSON: `format` ("cairn-offline-disk"), `version` (1), `import_job`, `vault_id`,
`machine`, `point` (the staged recovery point), `disk` (n) and `disks` (m), `created`, `plan`
(the plan's random id: every disk of one prep shares it), `contents` (for every disk of the set:
its number, files, bytes, and how many packs, index segments and points it holds, so a missing
disk can be named with what it held), `files` (this disk's: `name`, `size`, `sha256`) and
`sha256`, the SHA-256 of the canonical JSON (sorted keys, no spaces) of every other field, so a
damaged manifest is told from a damaged file.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cairn.core.errors import CairnError, DamageFound, UsageError
from cairn.core.units import format_bytes
from cairn.storage.blobstore import check_name

FOLDER = "cairn-offline"
MANIFEST = "manifest.json"
PLAN = "plan.json"
JOURNAL = "copied.jsonl"
DATA = "data"
FORMAT = "cairn-offline-disk"
VERSION = 1


def canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def sealed_json(doc: dict[str, Any]) -> bytes:
    """The document with its own `sha256` added (over everything else)."""
    body = {k: v for k, v in doc.items() if k != "sha256"}
    return (
        json.dumps(
            body | {"sha256": hashlib.sha256(canonical(body)).hexdigest()}, indent=1
        ).encode()
        + b"\n"
    )


def kind_of(name: str) -> str:
    """What a staging file is, in words: for messages naming what a disk or a file held."""
    parts = name.split("/")
    if len(parts) >= 3 and parts[0] == "machines":
        return {
            "packs": "pack",
            "index": "index segment",
            "points": "recovery point",
            "keys": "key file",
            "config": "store config",
        }.get(parts[2], parts[2])
    return "staging marker" if name.endswith("staging.json") else "vault file"


def summary(files: list[dict[str, Any]]) -> dict[str, int]:
    kinds = [kind_of(f["name"]) for f in files]
    return {
        "files": len(files),
        "bytes": sum(int(f["size"]) for f in files),
        "packs": kinds.count("pack"),
        "index": kinds.count("index segment"),
        "points": kinds.count("recovery point"),
    }


def describe(contents: dict[str, Any]) -> str:
    """'412 files, 1.6 GiB: 400 packs, 10 index segments, the recovery point'."""
    parts = [f"{contents['packs']} packs", f"{contents['index']} index segments"]
    if contents.get("points"):
        parts.append("the recovery point")
    return f"{contents['files']} files, {format_bytes(contents['bytes'])}: {', '.join(parts)}"


@dataclass
class DiskManifest:
    path: Path
    doc: dict[str, Any]

    @property
    def disk(self) -> int:
        return int(self.doc["disk"])

    @property
    def disks(self) -> int:
        return int(self.doc["disks"])

    @property
    def files(self) -> list[dict[str, Any]]:
        return list(self.doc["files"])

    def data(self, name: str) -> Path:
        return self.path / FOLDER / DATA / Path(*name.split("/"))

    def shown(self) -> str:
        return f"disk {self.disk} of {self.disks} ({self.path})"


def read_manifest(disk: Path) -> DiskManifest:
    """A disk's manifest, its own checksum verified; `UsageError` if there is none (not a disk
    of an offline import, or its prep did not finish), `DamageFound` if it is damaged."""
    path = disk / FOLDER / MANIFEST
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if (disk / FOLDER / PLAN).exists():
            raise UsageError(
                f"{disk}: its prep did not finish (no {FOLDER}/{MANIFEST}): run `cairn offline"
                " prep` again with the same disks; it resumes"
            ) from None
        raise UsageError(
            f"{disk} is not a disk of an offline import (no {FOLDER}/{MANIFEST} on it)"
        ) from None
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None
    try:
        doc = json.loads(raw)
        body = {k: v for k, v in doc.items() if k != "sha256"}
        good = doc.get("sha256") == hashlib.sha256(canonical(body)).hexdigest()
    except (ValueError, AttributeError):
        good = False
    if not good:
        raise DamageFound(
            f"the manifest {path} is damaged (its checksum does not match): run `cairn offline"
            " prep` again from the staging folder onto this disk"
        )
    if doc.get("format") != FORMAT or doc.get("version") != VERSION:
        raise UsageError(
            f"{path} is a {doc.get('format')!r} version {doc.get('version')!r} manifest; this"
            f" Cairn reads {FORMAT!r} version {VERSION}: upgrade Cairn"
        )
    try:
        for f in doc["files"]:
            check_name(str(f["name"]))  # a name never leads outside the disk's data folder
            int(f["size"]), str(f["sha256"])
        for key in ("import_job", "vault_id", "machine", "point", "plan", "created"):
            str(doc[key])
        int(doc["disk"]), int(doc["disks"]), list(doc["contents"])
    except (CairnError, KeyError, TypeError, ValueError) as e:
        raise DamageFound(
            f"the manifest {path} is malformed ({e}): it cannot be imported"
        ) from None
    return DiskManifest(disk, doc)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path: Path, data: bytes) -> None:
    """Whole or not at all: a temp file, fsync, rename, fsync of the folder."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
