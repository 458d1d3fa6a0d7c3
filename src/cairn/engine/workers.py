"""Worker processes of a backup: each reads whole batches of files and chunks, hashes, compresses,
seals and packs them, uploading its own packs. The parent walks, keeps the index, builds trees.

Why processes: zstd, BLAKE3 and the chunker release the GIL but AES-GCM and the per-chunk Python work
do not; two processes fed whole batches kept both cores busy where a per-chunk fan-out did not
(PERF-FACTS.md). Workers are forked after the index is loaded, so each starts with the set of chunk
ids the vault already holds; a chunk two workers both meet for the first time in one run may be
stored twice (the index keeps one; prune reclaims the other).

Messages from a worker (on one queue):
    ("files", batch, [FileResult, ...])  a batch is done
    ("pack", PackInfo)                  a pack was uploaded
    ("done", worker)                    flushed its last pack and stopped
    ("error", worker, exit code, text)  a vault-side failure: the parent stops the job
"""

from __future__ import annotations

import io
import multiprocessing
import os
import queue
import signal
from dataclasses import dataclass
from typing import Any

from cairn.codec.chunker import Chunker
from cairn.codec.hashing import IdHasher
from cairn.codec.keys import MasterKey
from cairn.core.errors import CairnError
from cairn.storage.blobstore import BlobStore
from cairn.vault.layout import MachineLayout
from cairn.vault.packs import DATA, PackWriter
from cairn.vault.vaultfile import StoreConfig

_O_NOATIME = getattr(os, "O_NOATIME", 0)


@dataclass(frozen=True, slots=True)
class FileTask:
    ref: int
    path: bytes
    size: int


@dataclass(slots=True)
class FileResult:
    ref: int
    content: list[bytes]
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    error: str | None = None
    changed: bool = False
    new_bytes: int = 0
    stored_bytes: int = 0


@dataclass(frozen=True, slots=True)
class WorkerSetup:
    store: BlobStore
    machine: str
    key: MasterKey
    config: StoreConfig
    known: set[bytes]


class _Worker:
    def __init__(self, setup: WorkerSetup, results: Any) -> None:
        layout = MachineLayout(setup.machine)
        self.results = results
        self.known = setup.known
        self.hasher = IdHasher(setup.key.id_key)
        cfg = setup.config
        self.chunker = Chunker(setup.key.chunker_key, cfg.chunk_avg, cfg.chunk_min, cfg.chunk_max)
        store = setup.store
        self.packs = PackWriter(
            setup.key, lambda pid, data: store.put(layout.pack(pid), data), level=cfg.level
        )

    def _store_chunk(self, chunk: memoryview, result: FileResult) -> None:
        cid = self.hasher.id_of(chunk)
        result.content.append(cid)
        if cid in self.known:
            return
        before = self.packs.pending_bytes
        info = self.packs.add(DATA, cid, chunk)
        self.known.add(cid)
        result.new_bytes += len(chunk)
        if info is not None:
            result.stored_bytes += info.size - before
            self.results.put(("pack", info))
        else:
            result.stored_bytes += self.packs.pending_bytes - before

    def read_file(self, task: FileTask) -> FileResult:
        try:
            try:
                fd = os.open(task.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | _O_NOATIME)
            except PermissionError:
                fd = os.open(task.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as e:
            return FileResult(task.ref, [], 0, 0, 0, 0, error=f"cannot read: {e.strerror}")
        with io.FileIO(fd, "rb", closefd=True) as f:
            st0 = os.fstat(fd)
            result = FileResult(task.ref, [], 0, st0.st_mtime_ns, st0.st_ctime_ns, st0.st_ino)
            try:
                for chunk in self.chunker.chunks(f, st0.st_size):
                    self._store_chunk(chunk, result)
                    result.size += len(chunk)
            except OSError as e:
                return FileResult(task.ref, [], 0, 0, 0, 0, error=f"read failed: {e.strerror}")
            st1 = os.fstat(fd)
        if (st1.st_size, st1.st_mtime_ns, st1.st_ctime_ns) != (
            st0.st_size,
            st0.st_mtime_ns,
            st0.st_ctime_ns,
        ) or result.size != st0.st_size:
            result.changed = True
        return result


def worker_main(number: int, setup: WorkerSetup, tasks: Any, results: Any, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        w = _Worker(setup, results)
        while True:
            try:
                item = tasks.get(timeout=1.0)
            except queue.Empty:
                if os.getppid() != parent:
                    return  # the parent is gone (killed): stop, leaving only unindexed packs
                continue
            if item is None:
                break
            batch, files = item
            results.put(("files", batch, [w.read_file(t) for t in files]))
        info = w.packs.flush()
        if info is not None:
            results.put(("pack", info))
        results.put(("done", number))
    except CairnError as e:
        results.put(("error", number, e.exit_code, str(e)))
    except BaseException as e:
        results.put(("error", number, 1, f"{type(e).__name__}: {e}"))


def context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")
