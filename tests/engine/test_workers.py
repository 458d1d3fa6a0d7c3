"""The worker's pack uploader: a pack is written while the next one fills, and never changes
under the writer's feet (a bug that stored packs whose bytes did not match their names)."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

from blake3 import blake3

from cairn.codec.keys import MasterKey
from cairn.engine.workers import REMOTE_UPLOADS, _Uploader
from cairn.storage.location import is_remote
from cairn.storage.memory import MemoryBlobStore
from cairn.vault.layout import MachineLayout
from cairn.vault.packs import DATA, PackWriter


class SlowStore(MemoryBlobStore):
    """A store that takes its time, so the writer fills the next pack meanwhile; it notes every
    pack whose bytes do not hash to its name when the write starts or after it."""

    def __init__(self) -> None:
        super().__init__()
        self.changed: list[str] = []

    def put(self, name: str, data: bytes | memoryview) -> None:
        expected = name.rsplit("/", 1)[1]
        if blake3(data).hexdigest() != expected:
            self.changed.append(name)
        time.sleep(0.01)
        if blake3(data).hexdigest() != expected:
            self.changed.append(name)
        super().put(name, data)


class Messages:
    def __init__(self) -> None:
        self.items: list[object] = []

    def put(self, item: object) -> None:
        self.items.append(item)


def test_every_pack_written_through_the_uploader_hashes_to_its_name() -> None:
    store = SlowStore()
    messages = Messages()
    uploader = _Uploader(store, MachineLayout("m"), messages)
    writer = PackWriter(
        MasterKey.generate(), uploader.send, level=1, buffers=2, target_bytes=1 << 20
    )
    for _ in range(300):
        writer.add(DATA, os.urandom(32), os.urandom(100_000), compressible=False)
    writer.flush()
    uploader.close()
    assert store.changed == []
    names = [b.name for b in store.list("machines/m/packs/")]
    assert len(names) >= 25
    for name in names:
        assert blake3(store.get(name)).hexdigest() == name.rsplit("/", 1)[1]
    assert len(messages.items) == len(names)  # each pack announced once it was stored


class JitteryStore(SlowStore):
    """Uploads that finish out of order, as several uploads to a remote vault do."""

    def put(self, name: str, data: bytes | memoryview) -> None:
        time.sleep(random.random() * 0.02)
        super().put(name, data)


def test_several_uploads_in_flight_never_see_their_buffer_refilled() -> None:
    store = JitteryStore()
    messages = Messages()
    threads = 3
    uploader = _Uploader(store, MachineLayout("m"), messages, threads)
    writer = PackWriter(
        MasterKey.generate(), uploader.send, level=1, buffers=threads + 1, target_bytes=1 << 20
    )
    for _ in range(300):
        writer.add(DATA, os.urandom(32), os.urandom(100_000), compressible=False)
    writer.flush()
    uploader.close()
    assert store.changed == []
    names = [b.name for b in store.list("machines/m/packs/")]
    assert len(names) >= 25 and len(messages.items) == len(names)


def test_remote_vaults_get_more_uploads_in_flight_and_local_ones_one() -> None:
    assert is_remote("s3://bucket/p") and not is_remote("/srv/vault")
    assert REMOTE_UPLOADS > 1


def test_a_file_is_read_no_further_than_its_size_at_open(tmp_path: Path) -> None:
    """A file that grows while it is read is stored as it was when opened (and reported changed by
    the caller), not chased: a busy log once kept a backup reading for as long as it grew."""
    from cairn.codec.chunker import Chunker
    from cairn.engine.workers import Bounded

    path = tmp_path / "growing.log"
    first = os.urandom(3 << 20)
    path.write_bytes(first)
    with open(path, "rb", buffering=0) as f:
        bounded = Bounded(f, len(first))  # type: ignore[arg-type]
        with open(path, "ab") as w:
            w.write(os.urandom(5 << 20))  # grows after the open, before the reading
        chunker = Chunker(bytes(32))
        read = b"".join(bytes(c) for c in chunker.chunks(bounded, len(first)))  # type: ignore[arg-type]
    assert read == first
    assert path.stat().st_size == 8 << 20
