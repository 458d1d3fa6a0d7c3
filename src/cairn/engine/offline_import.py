"""`cairn offline import`: load the disks of an offline import job into the vault.

1. Every disk's manifest is read and its checksum verified; the disks must be one prep's set
   (same import job, plan, vault and machine, each number 1..m once). A disk of another import
   job, a disk missing (named with what it held, from the other manifests' contents) and a
   vault or machine other than the manifests' are refused before anything is written.
2. Every file is read and its SHA-256 compared with the manifest's; each damaged or missing file
   is named with its disk and what it was (a pack, an index segment, the recovery point). Any
   damage stops the import here (exit 14) with nothing written.
3. Under a shared lock (so prune cannot take the new, still unreferenced packs), what the vault
   lacks is uploaded in the write order of docs/format.md: packs (each checked to hash to its
   name), then index segments (each opened with the machine's key), and only when the vault's
   index then has every blob the staged point reaches, the point. A failure before the point
   leaves packs and segments no point uses, never a half-imported recovery point.
4. `check` (structure) runs on the result, and a job summary (kind "import") is sealed into the
   vault. Importing again finds everything present and uploads nothing.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cairn.core.clock import Clock
from cairn.core.errors import CairnError, DamageFound, UsageError
from cairn.core.events import Progress, Reporter
from cairn.core.ids import is_hex_id, random_id
from cairn.core.units import format_bytes
from cairn.engine import credentials as credfile
from cairn.engine.check import check
from cairn.engine.home import Home
from cairn.engine.offline_manifest import DiskManifest, describe, kind_of, read_manifest
from cairn.engine.offline_prep import sha256_of
from cairn.engine.reach import lacking
from cairn.engine.session import PassphrasePrompt, open_repository, open_vault_store
from cairn.storage.blobstore import check_name
from cairn.storage.location import is_remote
from cairn.vault.layout import VAULT_FILE
from cairn.vault.points import RecoveryPoint
from cairn.vault.repository import Repository
from cairn.vault.vault import Vault
from cairn.vault.vaultfile import VaultInfo

IMPORTED_KINDS = ("packs", "index", "points")
"""What an import uploads; the config, key files and registration are the vault's own."""


@dataclass
class ImportResult:
    import_job: str
    machine: str
    point: str
    job: str = ""
    disks: int = 0
    files: int = 0
    bytes_verified: int = 0
    uploaded_files: int = 0
    uploaded_bytes: int = 0
    present_files: int = 0
    already_imported: bool = False
    check_errors: list[str] = field(default_factory=list)
    duration_s: float = 0.0


def read_disks(disks: list[Path]) -> list[DiskManifest]:
    """The manifests of one prep's whole set of disks, in disk order (step 1)."""
    if not disks:
        raise UsageError("name the disks to import: --disk DIR (repeatable)")
    manifests = [read_manifest(d) for d in disks]
    plans = Counter(m.doc["plan"] for m in manifests)
    plan = plans.most_common(1)[0][0]
    model = next(m for m in manifests if m.doc["plan"] == plan)
    job = model.doc["import_job"]
    for m in manifests:
        if m.doc["import_job"] != job or m.doc["vault_id"] != model.doc["vault_id"]:
            held = next((c for c in m.doc["contents"] if c.get("disk") == m.disk), None)
            what = f", holding {describe(held)}" if held else ""
            raise UsageError(
                f"{m.path} is {m.shown()} of import job {m.doc['import_job']!r} (vault"
                f" {m.doc['vault_id']}, machine {m.doc['machine']!r}{what}), not of import job"
                f" {job!r} that the other disks belong to: remove it from this import"
            )
        if m.doc["plan"] != plan:
            raise UsageError(
                f"{m.path} is a disk of another prep of import job {job!r} (made"
                f" {m.doc['created']}) than the other disks (made {model.doc['created']}):"
                " import the disks of one prep together"
            )
    numbers = Counter(m.disk for m in manifests)
    twice = [n for n, c in numbers.items() if c > 1]
    if twice:
        raise UsageError(f"disk {twice[0]} of import job {job!r} is given twice")
    count = model.disks
    contents = {int(c["disk"]): c for c in model.doc["contents"]}
    missing = [n for n in range(1, count + 1) if n not in numbers]
    if missing:
        named = "; ".join(f"disk {n} of {count} ({describe(contents[n])})" for n in missing)
        raise UsageError(
            f"import job {job!r} is on {count} disks, and {len(missing)} is missing: {named};"
            " mount it and add --disk DIR for it"
        )
    return sorted(manifests, key=lambda m: m.disk)


def imported_files(m: DiskManifest, machine: str) -> list[dict[str, Any]]:
    """The files of a disk that go into the vault (names checked: nothing outside the store)."""
    out = []
    for f in m.files:
        name = check_name(str(f["name"]))
        parts = name.split("/")
        if len(parts) < 4 or parts[0] != "machines" or parts[1] != machine:
            continue
        if parts[2] in IMPORTED_KINDS and is_hex_id(parts[-1]):
            out.append(f)
    return out


def verify_files(manifests: list[DiskManifest], reporter: Reporter) -> int:
    """Read every file of every disk back against its manifest (step 2); the bytes read."""
    total = sum(int(f["size"]) for m in manifests for f in m.files)
    progress = Progress(
        "offline import: verify",
        files_total=sum(len(m.files) for m in manifests),
        bytes_total=total,
    )
    damaged = []
    for m in manifests:
        for f in m.files:
            reporter.stop_if_cancelled()
            name, size = str(f["name"]), int(f["size"])
            path = m.data(name)
            what = f"{m.shown()}: {name} ({kind_of(name)}, {format_bytes(size)})"
            try:
                actual = path.stat().st_size
                good = actual == size and sha256_of(path) == f["sha256"]
                problem = "is damaged (its SHA-256 differs from the manifest's)"
                if actual != size:
                    problem = f"is damaged ({actual} bytes, the manifest says {size})"
            except FileNotFoundError:
                good, problem = False, "is missing"
            except OSError as e:
                good, problem = False, f"cannot be read ({e.strerror})"
            if not good:
                damaged.append(f"{what} {problem}")
            progress.files_done += 1
            progress.bytes_done += size
            progress.current = name
            reporter.progress(progress)
    if damaged:
        shown = "; ".join(damaged[:10]) + ("; ..." if len(damaged) > 10 else "")
        raise DamageFound(
            f"{len(damaged)} file(s) on the disks are damaged or missing, so nothing was"
            f" imported: {shown}. Run `cairn offline prep` again from the staging folder onto"
            " fresh disks (or copy the named files again)"
        )
    return total


def open_for_import(
    home: Home,
    clock: Clock,
    model: DiskManifest,
    *,
    credentials_file: Path | None = None,
    passphrase: str | None = None,
    prompt: PassphrasePrompt | None = None,
) -> Repository:
    """The store of the disks' machine: in the vault this machine registered with, or in the
    one a vault credentials file names (then the machine's passphrase is needed)."""
    machine = str(model.doc["machine"])
    if credentials_file is None:
        return open_repository(home, clock, machine=machine, passphrase=passphrase, prompt=prompt)
    given = credfile.read_file(credentials_file)
    vault = Vault(open_vault_store(given.vault, dict(given.credentials) or None), clock)
    if vault.info().vault_id != given.vault_id:
        raise UsageError(
            f"{credentials_file} is for vault {given.vault_id}, but the vault at {given.vault} is"
            f" {vault.info().vault_id}"
        )
    if passphrase is None and prompt is not None:
        passphrase = prompt(f"the passphrase of machine {machine!r}")
    if passphrase is None:
        raise UsageError(
            f"importing into machine {machine!r} needs its passphrase: set CAIRN_PASSPHRASE or"
            " give --passphrase-file FILE"
        )
    return vault.open(machine, vault.unlock(machine, passphrase))


def check_target(repo: Repository, model: DiskManifest) -> None:
    vault_id = VaultInfo.decode(repo.store.get(VAULT_FILE), repo.store.location).vault_id
    if vault_id != model.doc["vault_id"]:
        raise UsageError(
            f"the disks are for vault {model.doc['vault_id']}, but the vault at"
            f" {repo.store.location} is {vault_id}: import where that vault is registered, or"
            " give its --vault-credentials FILE"
        )
    if repo.machine != model.doc["machine"]:
        raise UsageError(f"the disks hold machine {model.doc['machine']!r}, not {repo.machine!r}")


def import_disks(
    repo: Repository,
    manifests: list[DiskManifest],
    reporter: Reporter | None = None,
) -> ImportResult:
    """Import one prep's disks into `repo` (the machine's store in the vault); see above."""
    reporter = reporter or Reporter()
    started = time.monotonic()
    model = manifests[0]
    check_target(repo, model)
    point_id = str(model.doc["point"])
    result = ImportResult(model.doc["import_job"], repo.machine, point_id, disks=len(manifests))
    result.files = sum(len(m.files) for m in manifests)
    result.bytes_verified = verify_files(manifests, reporter)
    files = [(m, f) for m in manifests for f in imported_files(m, repo.machine)]
    by_kind: dict[str, list[tuple[DiskManifest, dict[str, Any]]]] = {k: [] for k in IMPORTED_KINDS}
    for m, f in files:
        by_kind[str(f["name"]).split("/")[2]].append((m, f))
    points = by_kind["points"]
    if len(points) != 1 or str(points[0][1]["name"]).rsplit("/", 1)[1] != point_id:
        raise DamageFound(f"the disks of import job {result.import_job!r} do not hold its point")
    progress = Progress(
        "offline import: upload",
        files_total=len(files),
        bytes_total=sum(int(f["size"]) for _, f in files),
    )
    with repo.locks.acquire(exclusive=False, purpose="import"):
        packs = repo.list_packs()
        todo = []
        for m, f in by_kind["packs"]:
            pack_id = str(f["name"]).rsplit("/", 1)[1]
            if packs.get(pack_id) == int(f["size"]):
                result.present_files += 1
                _advance(progress, f, reporter)
            else:
                todo.append((m, f))
        _upload_packs(repo, todo, progress, reporter, result)
        segments = set(repo.list_segments())
        for m, f in by_kind["index"]:
            reporter.stop_if_cancelled()
            segment_id = str(f["name"]).rsplit("/", 1)[1]
            if segment_id in segments:
                result.present_files += 1
            else:
                data = m.data(f["name"]).read_bytes()
                repo.objects.open(b"index", bytes.fromhex(segment_id), data)  # authentic
                _put(repo, f, data, result)
            _advance(progress, f, reporter)
        m, f = points[0]
        if point_id in repo.point_ids():
            result.present_files += 1
            result.already_imported = result.uploaded_files == 0
        else:
            data = m.data(f["name"]).read_bytes()
            doc = repo.objects.open_json(b"point", bytes.fromhex(point_id), data)
            point = RecoveryPoint.from_json(doc, point_id)
            gaps = lacking(repo, repo.load_index(), point)
            if gaps:
                raise DamageFound(
                    f"after uploading the packs and the index, the vault still lacks"
                    f" {len(gaps)} blob(s) recovery point {point_id[:8]} needs ({gaps[0]}): the"
                    " point was not imported; run `cairn offline prep` again from the staging"
                )
            _put(repo, f, data, result)
        _advance(progress, f, reporter)
    checked = check(repo, reporter=reporter)
    result.check_errors = list(checked.errors)
    result.duration_s = time.monotonic() - started
    return result


def _advance(progress: Progress, f: dict[str, Any], reporter: Reporter) -> None:
    progress.files_done += 1
    progress.bytes_done += int(f["size"])
    progress.current = str(f["name"])
    reporter.progress(progress)


def _put(repo: Repository, f: dict[str, Any], data: bytes, result: ImportResult) -> None:
    repo.store.put(str(f["name"]), data)
    result.uploaded_files += 1
    result.uploaded_bytes += len(data)


def _upload_packs(
    repo: Repository,
    todo: list[tuple[DiskManifest, dict[str, Any]]],
    progress: Progress,
    reporter: Reporter,
    result: ImportResult,
) -> None:
    """Each pack read from its disk, checked to hash to its name, and uploaded (4 at a time to
    a remote vault)."""

    def one(item: tuple[DiskManifest, dict[str, Any]]) -> int:
        m, f = item
        reporter.stop_if_cancelled()
        data = m.data(f["name"]).read_bytes()
        pack_id = str(f["name"]).rsplit("/", 1)[1]
        if not repo.verify_pack_bytes(pack_id, data):
            raise DamageFound(
                f"{m.shown()}: pack {pack_id[:16]} does not hash to its name (damaged in the"
                " staging folder before prep?): nothing of it was imported"
            )
        repo.store.put(str(f["name"]), data)
        return len(data)

    threads = 4 if is_remote(repo.store.location) else 1
    with ThreadPoolExecutor(threads) as pool:
        for (_, f), size in zip(todo, pool.map(one, todo), strict=True):
            result.uploaded_files += 1
            result.uploaded_bytes += size
            _advance(progress, f, reporter)


def save_job(repo: Repository, result: ImportResult, created: str, finished: str) -> str:
    """The import's job summary, sealed into the vault (format.md, "Job summaries")."""
    job_id = random_id()
    summary = {
        "id": job_id,
        "kind": "import",
        "trigger": "on-demand",
        "state": "completed" if not result.check_errors else "failed",
        "created": created,
        "started": created,
        "finished": finished,
        "slot": None,
        "error": result.check_errors[0] if result.check_errors else None,
        "recovery_point": result.point,
        "result": import_summary(result),
    }
    try:
        repo.save_job(job_id, summary)
    except CairnError:
        pass  # the summary is for display; the point is the record
    return job_id


def import_summary(result: ImportResult) -> dict[str, Any]:
    return {
        "import_job": result.import_job,
        "machine": result.machine,
        "recovery_point": result.point,
        "disks": result.disks,
        "files": result.files,
        "bytes_verified": result.bytes_verified,
        "uploaded_files": result.uploaded_files,
        "uploaded_bytes": result.uploaded_bytes,
        "present_files": result.present_files,
        "already_imported": result.already_imported,
        "check_errors": result.check_errors,
        "duration_s": round(result.duration_s, 3),
    }
