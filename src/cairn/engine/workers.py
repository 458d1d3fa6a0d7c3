"""Worker processes of a backup: each reads whole batches of files and chunks, hashes, compresses,
seals and packs them, uploading its own packs. The parent walks, keeps the index, builds trees.

Why processes: zstd, BLAKE3 and the chunker release the GIL but AES-GCM and the per-chunk Python work
do not; two processes fed whole batches kept both cores busy where a per-chunk fan-out did not
(PERF-FACTS.md). Workers are forked after the index is loaded, so each starts with the set of chunk
ids the vault already holds; a chunk two workers both meet for the first time in one run may be
stored twice (the index keeps one; prune reclaims the other).

Messages from a worker (on one queue):
    ("files", batch, [FileResult, ...])  a batch is done
    ("read", ref, bytes)                 a large file's bytes read since the last report, while it
                                        is read (progress; the file's result still counts whole)
    ("pack", PackInfo)                  a pack was uploaded
    ("done", worker)                    flushed its last pack and stopped
    ("error", worker, exit code, text)  a vault-side failure: the parent stops the job
"""

from __future__ import annotations

import gc
import io
import multiprocessing
import os
import queue
import signal
import stat
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

from cairn.codec.chunker import Chunker
from cairn.codec.hashing import IdHasher
from cairn.codec.keys import MasterKey
from cairn.core.errors import CairnError
from cairn.storage.blobstore import BlobStore, put_verified
from cairn.storage.location import is_remote
from cairn.vault.layout import MachineLayout
from cairn.vault.packs import DATA, PackInfo, PackWriter
from cairn.vault.vaultfile import StoreConfig

_O_NOATIME = getattr(os, "O_NOATIME", 0)
# Packs in flight per worker for a remote vault (a local one keeps one: the disk is the bound).
REMOTE_UPLOADS = 3
READ_REPORT_BYTES = 32 << 20  # a file being read reports its progress every this many bytes


@dataclass(frozen=True, slots=True)
class FileTask:
    ref: int
    path: bytes
    size: int
    inode: int = 0  # as the walk saw it: another one at read time means the file was replaced


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
    replaced: bool = False
    new_bytes: int = 0


@dataclass(frozen=True, slots=True)
class WorkerSetup:
    store: BlobStore
    machine: str
    key: MasterKey
    config: StoreConfig
    known: set[bytes]


class _Uploader:
    """Writes a worker's packs on `threads` threads, so reading and compressing go on while packs
    are written: one thread for a local folder (today's behaviour), several for a remote vault,
    where each upload waits mostly on the network. The pack writer has threads + 1 buffers and
    refills them in turn, so `send` returns only once the upload of the buffer filled next has
    finished. A pack is announced to the parent only once it is stored (the write order: packs
    before the index that names them)."""

    def __init__(
        self, store: BlobStore, layout: MachineLayout, results: Any, threads: int = 1
    ) -> None:
        self._store = store
        self._layout = layout
        self._results = results
        self.threads = max(1, threads)
        self._queue: queue.Queue[tuple[PackInfo, memoryview, threading.Event] | None] = (
            queue.Queue()
        )
        self._pending: deque[threading.Event] = deque()
        self.error: BaseException | None = None
        self._threads = [
            threading.Thread(target=self._run, daemon=True, name=f"cairn-uploader-{i}")
            for i in range(self.threads)
        ]
        for t in self._threads:
            t.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            info, data, done = item
            try:
                if self.error is None:
                    put_verified(self._store, self._layout.pack(info.pack_id), data)
                    self._results.put(("pack", info))
            except BaseException as e:
                self.error = e
            finally:
                del data, item
                done.set()

    def send(self, info: PackInfo, data: memoryview) -> None:
        """Hand over a pack; waits until the upload of the buffer the writer refills next (the
        one handed over `threads` packs ago) is done."""
        if self.error is not None:
            raise self.error
        done = threading.Event()
        self._pending.append(done)
        self._queue.put((info, data, done))
        while len(self._pending) > self.threads:
            self._pending.popleft().wait()
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join()
        if self.error is not None:
            raise self.error


VANISHED = (
    "vanished before it was read (deleted or renamed since the walk listed it): not in this"
    " recovery point"
)


class Bounded:
    """A file read no further than the size it had when opened. A file that grows while it is
    read (a busy log) is then stored as it was, and reported as changed, instead of being chased
    for as long as it grows."""

    def __init__(self, f: io.FileIO, limit: int) -> None:
        self._f = f
        self._left = limit

    def readinto(self, buf: memoryview) -> int:
        if self._left <= 0:
            return 0
        n = self._f.readinto(buf[: self._left] if len(buf) > self._left else buf) or 0
        self._left -= n
        return n


class _Worker:
    def __init__(self, setup: WorkerSetup, results: Any) -> None:
        layout = MachineLayout(setup.machine)
        self.results = results
        self.known = setup.known
        self.hasher = IdHasher(setup.key.id_key)
        cfg = setup.config
        self.chunker = Chunker(setup.key.chunker_key, cfg.chunk_avg, cfg.chunk_min, cfg.chunk_max)
        threads = REMOTE_UPLOADS if is_remote(setup.store.location) else 1
        self.uploader = _Uploader(setup.store, layout, results, threads)
        # The pack writer hands a full buffer to `send`, which returns once the buffer the writer
        # fills next (handed over `threads` packs ago) is uploaded: never refilled in flight.
        self.packs = PackWriter(setup.key, self.uploader.send, level=cfg.level, buffers=threads + 1)

    def _store_chunk(self, chunk: memoryview, result: FileResult) -> None:
        cid = self.hasher.id_of(chunk)
        result.content.append(cid)
        if cid in self.known:
            return
        self.packs.add(DATA, cid, chunk)
        self.known.add(cid)
        result.new_bytes += len(chunk)

    def read_file(self, task: FileTask) -> FileResult:
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
        try:
            try:
                fd = os.open(task.path, flags | _O_NOATIME)
            except PermissionError:
                fd = os.open(task.path, flags)
        except FileNotFoundError:
            return FileResult(task.ref, [], 0, 0, 0, 0, error=VANISHED)
        except OSError as e:
            return FileResult(task.ref, [], 0, 0, 0, 0, error=f"cannot read: {e.strerror}")
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)  # replaced (by a fifo, say) since the walk: never block on it
            return FileResult(task.ref, [], 0, 0, 0, 0, error="is no longer a regular file")
        os.set_blocking(fd, True)
        with io.FileIO(fd, "rb", closefd=True) as f:
            st0 = os.fstat(fd)
            result = FileResult(task.ref, [], 0, st0.st_mtime_ns, st0.st_ctime_ns, st0.st_ino)
            unreported = 0
            result.replaced = bool(task.inode) and st0.st_ino != task.inode
            try:
                bounded = cast(BinaryIO, Bounded(f, st0.st_size))
                for chunk in self.chunker.chunks(bounded, st0.st_size):
                    self._store_chunk(chunk, result)
                    result.size += len(chunk)
                    unreported += len(chunk)
                    if unreported >= READ_REPORT_BYTES:
                        self.results.put(("read", task.ref, unreported))
                        unreported = 0
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
    # A worker is forked: it would inherit the parent's SIGTERM handler (the agent's "stop"), and
    # then `terminate()` would not stop it.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
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
        w.packs.flush()
        w.uploader.close()
        results.put(("done", number))
    except CairnError as e:
        results.put(("error", number, e.exit_code, str(e)))
    except BaseException as e:
        results.put(("error", number, 1, f"{type(e).__name__}: {e}"))


def context() -> Any:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


Handler = Callable[[tuple[Any, ...]], None]


class WorkerPool:
    """Worker processes forked on first use, fed batches through a bounded queue.

    `submit` blocks while the queue is full, handling the workers' messages meanwhile, so the walk
    never runs far ahead of the reading (memory stays bounded).
    """

    def __init__(self, setup: WorkerSetup, workers: int, handle: Handler) -> None:
        self._setup = setup
        self._n = max(1, workers)
        self._handle = handle
        self._procs: list[Any] = []
        self._done = 0
        self._tasks: Any = None
        self._results: Any = None

    def _start(self) -> None:
        ctx = context()
        self._tasks = ctx.Queue(maxsize=2 * self._n)
        self._results = ctx.Queue()
        self._procs = [
            ctx.Process(
                target=worker_main,
                args=(i, self._setup, self._tasks, self._results, os.getpid()),
                daemon=True,
                name=f"cairn-backup-worker-{i}",
            )
            for i in range(self._n)
        ]
        # What the parent holds stays shared with the workers: keep the collector from touching
        # (and so copying) those pages in the children.
        gc.freeze()
        try:
            for p in self._procs:
                p.start()
        finally:
            gc.unfreeze()

    def submit(self, batch: int, files: list[FileTask]) -> None:
        if not self._procs:
            self._start()
        while True:
            try:
                self._tasks.put((batch, files), timeout=0.05)
                break
            except queue.Full:
                self.poll(block=False)
                self._handle(("tick",))
                self._check_alive()
        self.poll(block=False)

    def poll(self, *, block: bool) -> None:
        """Handle waiting messages; with `block`, wait for at least one."""
        while True:
            try:
                msg = self._results.get(timeout=0.5) if block else self._results.get_nowait()
            except queue.Empty:
                if not block:
                    return
                self._handle(("tick",))  # a quiet half second: the caller may stop (a cancel)
                dead = [p for p in self._procs if not p.is_alive() and p.exitcode not in (0, None)]
                if dead:
                    raise CairnError(
                        f"a backup worker died (exit code {dead[0].exitcode}); the vault is"
                        " consistent: run the backup again"
                    ) from None
                continue
            kind = msg[0]
            if kind == "done":
                self._done += 1
            elif kind == "error":
                err = CairnError(msg[3])
                err.exit_code = msg[2]
                raise err
            else:
                self._handle(msg)
            if block:
                return

    def _check_alive(self) -> None:
        dead = [p for p in self._procs if not p.is_alive() and p.exitcode not in (0, None)]
        if dead:
            raise CairnError(
                f"a backup worker died (exit code {dead[0].exitcode}); the vault is"
                " consistent: run the backup again"
            )

    def finish(self) -> None:
        """Let the workers flush their last packs and stop; handle everything they send."""
        if not self._procs:
            return
        for _ in self._procs:
            self._tasks.put(None)
        while self._done < len(self._procs):
            self.poll(block=True)
        for p in self._procs:
            p.join()
        self._release()

    def terminate(self) -> None:
        for p in self._procs:
            if p.is_alive():
                p.terminate()
        for p in self._procs:
            p.join(timeout=5)
        self._release()

    def _release(self) -> None:
        """Close the queues' pipes and the workers' sentinels: a long-running agent makes a pool
        per backup, and each one left 8 descriptors open (past 1,024 after ~125 backups)."""
        if self._tasks is not None:
            self._tasks.cancel_join_thread()  # what a dead worker never read is not waited for
            self._tasks.close()  # its feeder thread closes both ends of its pipe as it ends
        if self._results is not None:
            # The parent never puts on it, so it has no feeder thread to close its pipe, and
            # Queue.close() leaves that to the garbage collector (Python 3.11).
            self._results._reader.close()
            self._results._writer.close()
        for p in self._procs:
            if p.exitcode is not None:
                p.close()
        self._procs, self._tasks, self._results = [], None, None
