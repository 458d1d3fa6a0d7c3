"""The source side of a backup: files that vanish between the walk and their read, files and
folders the backup may not read, files edited with their mtime put back, and sparse files. Each
problem is a warning naming the file and why (the point is "completed with warnings", exit 3),
never a silent omission."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.core.events import Reporter
from cairn.engine import backup as backup_module
from cairn.engine.backup import BackupOptions, backup
from cairn.engine.listing import list_point
from cairn.engine.restore import RestoreOptions, restore
from cairn.fs.walk import FsEntry
from tests.conftest import Machine

NOBODY = 65534


def names_in(machine: Machine, point_id: str) -> set[str]:
    repo = machine.repo()
    return {os.path.basename(item.path) for item in list_point(repo, repo.find_point(point_id))}


def test_a_file_that_vanishes_between_the_walk_and_its_read_is_named(
    machine: Machine, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    (src / "kept.txt").write_text("kept\n")
    (src / "gone.txt").write_text("deleted after the walk listed it\n")
    real = backup_module.list_dir

    def listing_then_delete(path: bytes) -> list[FsEntry]:
        entries = real(path)
        if path == os.fsencode(src):
            (src / "gone.txt").unlink()  # after the listing, before a worker opens it
        return entries

    monkeypatch.setattr(backup_module, "list_dir", listing_then_delete)
    reporter = Reporter()
    result = backup(machine.repo(), BackupOptions([str(src)]), reporter)
    assert result.point.status == "completed-with-warnings"
    assert [(w.path, w.message) for w in reporter.warnings] == [
        (
            str(src / "gone.txt"),
            "vanished before it was read (deleted or renamed since the walk listed it):"
            " not in this recovery point",
        )
    ]
    assert names_in(machine, result.point.id) >= {"kept.txt"}
    assert "gone.txt" not in names_in(machine, result.point.id)
    machine.check_clean()


def test_a_file_replaced_between_the_walk_and_its_read_is_named(
    machine: Machine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another file renamed over it (as editors save): what is read is not the file the walk saw,
    # whose mode, owner and times the entry holds.
    src = machine.tmp / "src"
    src.mkdir()
    (src / "doc.txt").write_text("as the walk saw it\n")
    os.chmod(src / "doc.txt", 0o600)
    real = backup_module.list_dir

    def listing_then_replace(path: bytes) -> list[FsEntry]:
        entries = real(path)
        if path == os.fsencode(src):
            (src / "new.tmp").write_text("saved since\n")
            os.rename(src / "new.tmp", src / "doc.txt")
        return entries

    monkeypatch.setattr(backup_module, "list_dir", listing_then_replace)
    reporter = Reporter()
    result = backup(machine.repo(), BackupOptions([str(src)]), reporter)
    assert result.point.status == "completed-with-warnings"
    assert [w.path for w in reporter.warnings] == [str(src / "doc.txt")]
    assert "replaced" in reporter.warnings[0].message
    machine.check_clean()


def test_a_file_edited_with_its_mtime_put_back_is_caught_by_its_ctime(machine: Machine) -> None:
    # `touch -r` (or a tool that keeps mtimes) can hide an edit from size + mtime; the kernel still
    # moves the ctime, which no user can set, so the change detection (size, mtime, ctime, inode,
    # mode, owner, link count against the previous point) reads the file again.
    src = machine.tmp / "src"
    src.mkdir()
    f = src / "ledger.txt"
    f.write_text("balance: 100\n")
    os.utime(f, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    first = backup(machine.repo(), BackupOptions([str(src)])).point
    before = os.stat(f)
    stamp = machine.tmp / "stamp"
    stamp.write_text("")
    os.utime(stamp, ns=(before.st_atime_ns, before.st_mtime_ns))
    f.write_text("balance: 999\n")  # same size
    subprocess.run(["touch", "-r", str(stamp), str(f)], check=True)
    after = os.stat(f)
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert after.st_ctime_ns != before.st_ctime_ns
    second = backup(machine.repo(), BackupOptions([str(src)])).point
    assert second.stats.files_changed == 1 and second.stats.files_unchanged == 0
    target = machine.tmp / "target"
    restore(machine.repo(), second, RestoreOptions(target=str(target)))
    assert (target / str(f).lstrip("/")).read_text() == "balance: 999\n"
    assert first.id != second.id
    machine.check_clean()


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder another user may enter (pytest's own tmp_path is root's, mode 0700)."""
    base = Path(tempfile.mkdtemp(prefix="cairn-nobody-", dir="/tmp"))
    os.chmod(base, 0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


AS_NOBODY = """
import json, os, sys
from pathlib import Path
from cairn.core.clock import SystemClock
from cairn.core.events import Reporter
from cairn.engine.backup import BackupOptions, backup
from cairn.engine.home import Home
from cairn.engine.session import open_repository
import cairn.engine.workers, cairn.vault.packs, cairn.codec.chunker
import multiprocessing.queues, multiprocessing.synchronize, multiprocessing.popen_fork
os.setgroups([])
os.setgid({uid})
os.setuid({uid})
assert os.geteuid() == {uid}
reporter = Reporter()
repo = open_repository(Home(Path({home!r})), SystemClock())
result = backup(repo, BackupOptions([{src!r}]), reporter)
print(json.dumps({{"status": result.point.status, "point": result.point.id,
    "warnings": [[w.path, w.message] for w in reporter.warnings]}}))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a backup as another user")
def test_files_and_folders_the_backup_may_not_read_are_each_named(shared_tmp: Path) -> None:
    from cairn.core.clock import SystemClock
    from cairn.engine.home import Home
    from cairn.engine.session import create_vault, open_repository, register
    from tests.conftest import PASSPHRASE

    home, vault, src = shared_tmp / "home", shared_tmp / "vault", shared_tmp / "src"
    create_vault(str(vault), SystemClock())
    register(Home(home), str(vault), SystemClock(), machine="nobodybox", passphrase=PASSPHRASE)
    src.mkdir()
    (src / "readable.txt").write_text("anyone may read this\n")
    (src / "locked").mkdir()
    (src / "locked" / "inside.txt").write_text("hidden\n")
    subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", str(shared_tmp)], check=True)
    (src / "secret.txt").write_text("root only\n")  # root's, 0600
    os.chmod(src / "secret.txt", 0o600)
    os.chown(src / "locked", 0, 0)
    os.chmod(src / "locked", 0o700)
    script = AS_NOBODY.format(uid=NOBODY, home=str(home), src=str(src))
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["status"] == "completed-with-warnings"
    assert sorted(map(tuple, doc["warnings"])) == [
        (str(src / "locked"), "cannot list folder: Permission denied"),
        (str(src / "secret.txt"), "cannot read: Permission denied"),
    ]
    repo = open_repository(Home(home), SystemClock())
    listed = {item.path for item in list_point(repo, repo.find_point(doc["point"]))}
    assert str(src / "readable.txt") in listed
    assert str(src / "secret.txt") not in listed
    assert str(src / "locked" / "inside.txt") not in listed


def vault_bytes(vault: Path) -> int:
    return sum(p.stat().st_size for p in vault.rglob("*") if p.is_file())


def test_a_one_gib_sparse_file_costs_the_vault_and_the_disk_nearly_nothing(
    machine: Machine,
) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    sparse = src / "disk.img"
    size = 1 << 30
    with open(sparse, "wb") as f:
        f.write(b"boot" * 1024)
        f.seek(512 << 20)
        f.write(os.urandom(64 << 10))
        f.truncate(size)
    assert os.stat(sparse).st_blocks * 512 < (1 << 20)
    before = vault_bytes(machine.vault)
    point = backup(machine.repo(), BackupOptions([str(src)])).point
    added = vault_bytes(machine.vault) - before
    assert added < (2 << 20), f"a 1 GiB sparse file cost the vault {added} bytes"
    target = machine.tmp / "target"
    restore(machine.repo(), point, RestoreOptions(target=str(target)))
    got = target / str(src).lstrip("/") / "disk.img"
    st = os.stat(got)
    assert st.st_size == size
    # Data chunks hold megabytes of zeros around the data: those are holes too.
    assert st.st_blocks * 512 < (1 << 20), f"restored with {st.st_blocks * 512} bytes on disk"
    with open(got, "rb") as f, open(sparse, "rb") as g:
        f.seek(512 << 20)
        g.seek(512 << 20)
        assert f.read(64 << 10) == g.read(64 << 10)
    machine.check_clean()


def test_zeros_inside_data_chunks_become_holes_and_every_byte_comes_back(
    machine: Machine,
) -> None:
    # A dense file (every block written) with runs of zeros at unaligned offsets: restored with
    # those runs as holes, byte for byte the same.
    src = machine.tmp / "src"
    src.mkdir()
    dense = src / "dense.bin"
    parts = [os.urandom(100), bytes(3 << 20), os.urandom(5000), bytes(10_000), os.urandom(1)]
    dense.write_bytes(b"".join(parts) + bytes(2 << 20))
    assert os.stat(dense).st_blocks * 512 >= 5 << 20
    point = backup(machine.repo(), BackupOptions([str(src)])).point
    target = machine.tmp / "target"
    restore(machine.repo(), point, RestoreOptions(target=str(target)))
    got = target / str(src).lstrip("/") / "dense.bin"
    assert got.read_bytes() == dense.read_bytes()
    assert os.stat(got).st_blocks * 512 < (1 << 20)
    machine.check_clean()
