"""A backup's progress moves while one large file is read, not only when it is done: a 6 GB disk
image must not show "0 B" for minutes (the console's and the CLI's live progress)."""

from __future__ import annotations

from cairn.core.events import Progress, Reporter
from cairn.engine.backup import BackupOptions, backup
from tests.conftest import Machine

SIZE = 512 << 20  # sparse: no disk, but all of it read


def test_bytes_done_grow_while_a_large_file_is_read(machine: Machine) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    with (src / "disk.img").open("wb") as f:
        f.truncate(SIZE)
    seen: list[tuple[int, int]] = []

    def on_progress(p: Progress) -> None:
        if p.phase == "backup":
            seen.append((p.files_done, p.bytes_done))

    result = backup(machine.repo(), BackupOptions([str(src)]), Reporter(on_progress=on_progress))
    assert result.point.stats.bytes == SIZE
    during = sorted({b for files, b in seen if files == 0 and 0 < b < SIZE})
    assert len(during) >= 4, seen  # several steps before the file is done
    assert seen[-1] == (1, SIZE)  # and the total is exact at the end
    assert all(b <= SIZE for _, b in seen)
    machine.check_clean()
