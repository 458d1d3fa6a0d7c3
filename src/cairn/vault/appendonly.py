"""An append-only vault (`cairn vault create --append-only`): Cairn's commands add to it and
never delete or overwrite what holds backups (docs/format.md, "vault.json"; docs/security.md).

`AppendOnlyBlobStore` wraps the vault's store for every machine opened from it (`Vault.open`):
under `machines/<m>/`, the bookkeeping that must change stays writable (`locks/`, the
registration `machine`, `guard`, `pins/` and `deleted/`, soft-delete records that only hide);
everything else (packs, index segments, points, keys, events, job summaries, damage records,
prune states) may be created but never deleted nor replaced by other bytes (`AppendOnly`, exit
2). Prune is refused before it starts (engine/protection.py). This guards against Cairn's own
commands, run by mistake or by an intruder holding the key; not against deleting the files.
"""

from __future__ import annotations

from collections.abc import Iterator

from cairn.core.errors import AppendOnly, BlobNotFound
from cairn.storage.blobstore import BlobInfo, BlobStore, put_if_absent

MUTABLE = ("locks/", "pins/", "deleted/")
MUTABLE_NAMES = ("machine", "guard")


def mutable(name: str) -> bool:
    parts = name.split("/", 2)
    if len(parts) < 3 or parts[0] != "machines":
        return False  # vault.json and anything else at the top
    rest = parts[2]
    return rest in MUTABLE_NAMES or rest.startswith(MUTABLE)


class AppendOnlyBlobStore:
    append_only = True

    def __init__(self, inner: BlobStore) -> None:
        self.inner = inner
        self.location = inner.location

    def _refuse(self, what: str, name: str) -> AppendOnly:
        return AppendOnly(
            f"the vault at {self.location} is append-only: {what} {name} is refused (nothing"
            " that holds backups is deleted or replaced through Cairn)"
        )

    def put(self, name: str, data: bytes | memoryview) -> None:
        if not mutable(name):
            try:
                old = self.inner.get(name)
            except BlobNotFound:
                old = None
            if old is not None and old != bytes(data):
                raise self._refuse("replacing", name)
            if old is not None:
                return  # the same bytes again (a retry): nothing changes
        self.inner.put(name, data)

    def put_if_absent(self, name: str, data: bytes | memoryview) -> bool:
        return put_if_absent(self.inner, name, data)  # creating is always allowed

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        return self.inner.get(name, offset, length)

    def stat(self, name: str) -> BlobInfo:
        return self.inner.stat(name)

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        return self.inner.list(prefix)

    def delete(self, name: str) -> None:
        if not mutable(name):
            raise self._refuse("deleting", name)
        self.inner.delete(name)
