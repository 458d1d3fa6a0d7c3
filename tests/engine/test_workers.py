"""The worker's pack uploader: a pack is written while the next one fills, and never changes
under the writer's feet (a bug that stored packs whose bytes did not match their names)."""

from __future__ import annotations

import os
import time

from blake3 import blake3

from cairn.codec.keys import MasterKey
from cairn.engine.workers import _Uploader
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
