"""A `BlobStore` in a local folder. Writes go to a temp file, are fsync'd, then renamed into place,
and the folder is fsync'd after a rename or a delete, so the order of writes survives a power cut."""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Iterator

from cairn.core.errors import BlobNotFound, CairnError, NoSpace, StorageError
from cairn.storage.blobstore import BlobInfo, check_name

TEMP_PREFIX = ".tmp-"


class LocalBlobStore:
    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self.location = self.root

    def _path(self, name: str) -> str:
        return os.path.join(self.root, *check_name(name).split("/"))

    def _fail(self, what: str, name: str, e: OSError) -> CairnError:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            return NoSpace(f"the vault {self.location} is full (writing {name}): free space there")
        if e.errno == errno.ENOENT:
            return BlobNotFound(f"{self.location}: no blob {name}")
        return StorageError(f"the vault {self.location}: {what} {name} failed: {e.strerror}")

    def put(self, name: str, data: bytes | memoryview) -> None:
        self._write(name, data, replace=True)

    def put_if_absent(self, name: str, data: bytes | memoryview) -> bool:
        """Create `name` only if it does not exist (link(2) of the fsync'd temp file)."""
        return self._write(name, data, replace=False)

    def _write(self, name: str, data: bytes | memoryview, *, replace: bool) -> bool:
        path = self._path(name)
        directory = os.path.dirname(path)
        tmp = os.path.join(directory, TEMP_PREFIX + secrets.token_hex(8))
        try:
            if not os.path.isdir(directory):
                os.makedirs(directory, exist_ok=True)
                _fsync_dir(os.path.dirname(directory))
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            try:
                view = memoryview(data)
                while view:
                    n = os.write(fd, view)
                    view = view[n:]
                os.fsync(fd)
            finally:
                os.close(fd)
            if replace:
                os.rename(tmp, path)
            else:
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    os.unlink(tmp)
                    return False
                os.unlink(tmp)
            # The rename is durable only once the folder is: the write order (packs, index,
            # recovery point) must survive a power cut, not just a killed process.
            _fsync_dir(directory)
            return True
        except OSError as e:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise self._fail("writing", name, e) from None

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        path = self._path(name)
        try:
            with open(path, "rb") as f:
                if offset:
                    f.seek(offset)
                return f.read() if length is None else f.read(length)
        except OSError as e:
            raise self._fail("reading", name, e) from None

    def stat(self, name: str) -> BlobInfo:
        try:
            return BlobInfo(name, os.stat(self._path(name)).st_size)
        except OSError as e:
            raise self._fail("reading", name, e) from None

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        # Walk only the folder the prefix names, then filter by the rest of it.
        base = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = os.path.join(self.root, *base.split("/")) if base else self.root
        stack = [(start, base)]
        while stack:
            folder, rel = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except FileNotFoundError:
                continue
            except OSError as e:
                raise self._fail("listing", rel or "/", e) from None
            for entry in entries:
                if entry.name.startswith(TEMP_PREFIX):
                    continue
                name = f"{rel}/{entry.name}" if rel else entry.name
                if entry.is_dir(follow_symlinks=False):
                    if name.startswith(prefix) or prefix.startswith(name + "/"):
                        stack.append((entry.path, name))
                elif name.startswith(prefix):
                    try:
                        yield BlobInfo(name, entry.stat(follow_symlinks=False).st_size)
                    except FileNotFoundError:
                        continue

    def sweep_temporaries(self, older_than: float) -> tuple[int, int]:
        """Delete the temp files of writes that never finished (a killed or crashed process),
        last modified before `older_than` (seconds since the epoch): a write in progress keeps
        its temp file fresh, so only the caller's margin separates the two. Returns how many
        files and bytes were removed; one that cannot be removed is left for the next sweep."""
        removed = freed = 0
        stack = [self.root]
        while stack:
            folder = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                    continue
                if not entry.name.startswith(TEMP_PREFIX):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                    if st.st_mtime >= older_than:
                        continue
                    os.unlink(entry.path)
                except OSError:
                    continue
                removed += 1
                freed += st.st_size
        return removed, freed

    def delete(self, name: str) -> None:
        path = self._path(name)
        try:
            os.unlink(path)
            _fsync_dir(os.path.dirname(path))
        except OSError as e:
            raise self._fail("deleting", name, e) from None


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
