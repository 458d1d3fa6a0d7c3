"""Check a machine's store: structure always; with `read_data`, every blob; with a subset, a share.

Structure: every index segment opens; every prune state opens; every recovery point opens; every
tree of every point opens, names each entry once with a safe name (no `..`, `/` or NUL), and every
blob it names is in the index with the right type (a file's data is data, a folder's listing is a
tree: no type confusion); every pack the index names
exists. Reading data: every pack's bytes hash to its name, its header opens and agrees with the
index, and every blob in it opens and hashes to its id. Packs no index names are reported (a killed
backup leaves them; the next backup indexes them, prune removes them) but are not damage.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from cairn.codec.hashing import content_hash
from cairn.core.errors import BlobNotFound, CairnError, UnsafePath, UsageError
from cairn.core.events import Progress, Reporter
from cairn.engine.seen import dated_ahead, rollback_findings
from cairn.fs.safety import check_name
from cairn.vault.index import Index, Location
from cairn.vault.packs import (
    DATA,
    TRAILER_BYTES,
    TREE,
    check_entries,
    open_header,
    read_trailer,
)
from cairn.vault.repository import Repository
from cairn.vault.vault import key_file_damage


@dataclass
class CheckResult:
    points: int = 0
    trees: int = 0
    packs: int = 0
    packs_read: int = 0
    blobs_read: int = 0
    bytes_read: int = 0
    unindexed_packs: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_subset(text: str) -> tuple[int, int]:
    try:
        n, m = (int(x) for x in text.split("/"))
    except ValueError:
        raise UsageError(f"--read-data-subset takes N/M (like 1/7), not {text!r}") from None
    if not (1 <= n <= m <= 10000):
        raise UsageError(f"--read-data-subset {text}: N must be between 1 and M")
    return n, m


def in_subset(pack_id: str, subset: tuple[int, int]) -> bool:
    n, m = subset
    return int(pack_id[:8], 16) % m == n - 1


class _Checker:
    def __init__(self, repo: Repository, reporter: Reporter) -> None:
        self.repo = repo
        self.reporter = reporter
        self.result = CheckResult()
        self.index = Index()

    def error(self, text: str) -> None:
        self.result.errors.append(text)
        self.reporter.warn("", text)

    def structure(self) -> dict[str, int]:
        repo = self.repo

        # Superseded segments are left out: prune replaced them, their packs may be gone.
        def damaged(seg: str, e: CairnError) -> None:
            self.error(f"index segment {seg[:16]}: {e}")

        before = len(self.result.errors)
        in_force = repo.segments_in_force(on_damage=damaged)
        for packs in in_force.values():
            for p in packs:
                self.index.add_pack(p)
        if len(self.result.errors) > before:
            # As every reader does: the packs no other segment names are indexed from their
            # headers, so what is reported is the damaged segment, not every point's data.
            repo.recover_packs(self.index, write=False)
        present = repo.confirm_packs(repo.list_packs(), self.index.packs)
        missing = [p for p in self.index.packs if p not in present]
        self.result.packs = len(present)
        self.result.unindexed_packs = sum(1 for p in present if p not in self.index.packs)
        for state_id in repo.prune_states.ids():
            try:
                repo.prune_states.read_one(state_id)
            except BlobNotFound:
                continue  # removed by a concurrent prune
            except CairnError as e:
                self.error(f"{e} (the next prune replaces it)")
        seen: set[bytes] = set()
        present_points = repo.point_ids()
        now = repo.clock.now()
        if repo.memory is not None:
            for pid in repo.memory.vanished(present_points):
                try:  # a listing may miss a recent point; a read by name does not
                    repo.store.stat(repo.layout.point(pid))
                    present_points.append(pid)
                except BlobNotFound:
                    pass
        for text in rollback_findings(repo.memory, present_points, in_force):
            self.error(text)
        for pid in present_points:
            try:
                point = repo.load_point(pid)
            except CairnError as e:
                self.error(f"recovery point {pid[:8]}: {e}")
                continue
            self.result.points += 1
            ahead = dated_ahead(point, now)
            if ahead is not None:
                self.error(ahead)
            self.trees(point.id, [point.tree], seen)
        for pack_id in missing:
            self.missing_pack(pack_id, present, seen)
        return present

    def missing_pack(self, pack_id: str, present: dict[str, int], used: set[bytes]) -> None:
        """A pack the index names that is gone: damage if a point needs a blob of it that no
        other stored pack holds; else only a warning (prune deleted it while a listing missed a
        recent segment naming it; backups never trust such an entry, the next prune drops it)."""
        lost = [
            e.blob_id
            for e in self.index.packs[pack_id].entries
            if e.blob_id in used
            and not any(c.pack_id in present for c in self.index.copies(e.blob_id))
        ]
        if lost:
            self.error(f"pack {pack_id[:16]} is named by the index but missing")
        else:
            self.reporter.warn(
                "",
                f"pack {pack_id[:16]} is named by the index but missing; no recovery point"
                " needs its data (the next prune drops it from the index)",
            )

    def trees(self, point_id: str, roots: Iterable[bytes], seen: set[bytes]) -> None:
        stack = list(roots)
        while stack:
            tid = stack.pop()
            if tid in seen:
                continue
            seen.add(tid)
            loc = self.repo.locate(self.index, tid)
            if loc is None:
                self.error(f"recovery point {point_id[:8]}: tree {tid.hex()[:16]} is missing")
                continue
            if loc.kind != TREE:
                self.error(
                    f"recovery point {point_id[:8]}: tree {tid.hex()[:16]} names file data, not a"
                    " folder listing: the vault is damaged or hostile"
                )
                continue
            try:
                nodes = self.repo.load_tree(self.index, tid)
            except CairnError as e:
                self.error(f"recovery point {point_id[:8]}: tree {tid.hex()[:16]}: {e}")
                continue
            self.result.trees += 1
            if len({n.name for n in nodes}) != len(nodes):
                self.error(
                    f"recovery point {point_id[:8]}: tree {tid.hex()[:16]} names one entry twice"
                    " (restore refuses it: the vault is damaged or hostile)"
                )
            for n in nodes:
                name = n.name.decode(errors="replace")
                try:
                    check_name(n.name)
                except UnsafePath as e:
                    self.error(f"recovery point {point_id[:8]}: tree {tid.hex()[:16]}: {e}")
                if n.subtree is not None:
                    stack.append(n.subtree)
                for cid in n.content:
                    seen.add(cid)
                    loc = self.repo.locate(self.index, cid)
                    if loc is None:
                        self.error(
                            f"recovery point {point_id[:8]}: data of {name} is missing"
                            f" (chunk {cid.hex()[:16]})"
                        )
                    elif loc.kind != DATA:
                        self.error(
                            f"recovery point {point_id[:8]}: data of {name} names a folder"
                            f" listing, not data (chunk {cid.hex()[:16]}): the vault is damaged"
                            " or hostile"
                        )

    def read_pack(self, pack_id: str, size: int) -> None:
        repo = self.repo
        try:
            data = repo.store.get(repo.layout.pack(pack_id))
        except CairnError as e:
            self.error(f"pack {pack_id[:16]}: {e}")
            return
        if content_hash(data).hex() != pack_id:
            self.error(f"pack {pack_id[:16]} is damaged: its bytes do not match its name")
            return
        try:
            session, header_len = read_trailer(data[-TRAILER_BYTES:], len(data))
            header_off = len(data) - TRAILER_BYTES - header_len
            entries = open_header(
                repo.opener(session), session, data[header_off : header_off + header_len]
            )
            check_entries(entries, header_off)
        except CairnError as e:
            self.error(f"pack {pack_id[:16]}: header: {e}")
            return
        indexed = self.index.packs.get(pack_id)
        if indexed is not None and set(indexed.entries) != set(entries):
            self.error(f"pack {pack_id[:16]}: its header and the index disagree")
        view = memoryview(data)
        for entry in entries:
            here = Location(
                pack_id, session, entry.kind, entry.offset, entry.length, entry.raw_length
            )
            try:
                repo.open_blob(
                    here, entry.blob_id, view[entry.offset : entry.offset + entry.length]
                )
            except CairnError as err:
                self.error(f"pack {pack_id[:16]}: blob {entry.blob_id.hex()[:16]}: {err}")
        self.result.packs_read += 1
        self.result.blobs_read += len(entries)
        self.result.bytes_read += len(data)


def check(
    repo: Repository,
    *,
    read_data: bool = False,
    subset: tuple[int, int] | None = None,
    reporter: Reporter | None = None,
    workers: int = 2,
) -> CheckResult:
    reporter = reporter or Reporter()
    with repo.locks.acquire(exclusive=False, purpose="check", reading=reporter.warn):
        c = _Checker(repo, reporter)
        reporter.progress(Progress("check structure"))
        present = c.structure()
        c.result.errors.extend(key_file_damage(repo))  # key files: vault/vault.py
        if read_data or subset is not None:
            chosen = {p: s for p, s in present.items() if subset is None or in_subset(p, subset)}
            progress = Progress(
                "check data", files_total=len(chosen), bytes_total=sum(chosen.values())
            )
            with ThreadPoolExecutor(workers) as pool:
                futures = [pool.submit(c.read_pack, p, s) for p, s in sorted(chosen.items())]
                for (_, size), fut in zip(sorted(chosen.items()), futures, strict=True):
                    fut.result()
                    progress.files_done += 1
                    progress.bytes_done += size
                    reporter.progress(progress)
                    if reporter.cancel is not None and reporter.cancel.is_set():
                        for pending in futures:
                            pending.cancel()
                        reporter.stop_if_cancelled()
    return c.result
