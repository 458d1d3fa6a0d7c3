"""A restore target that cannot be written is refused at once, in words, before anything runs;
and `permissions=False` gives restored files this machine's defaults instead of the recorded ones."""

from __future__ import annotations

import os
import stat
import subprocess

import pytest

from cairn.agent.api import check_params
from cairn.core.errors import UsageError
from cairn.engine.backup import BackupOptions, backup
from cairn.engine.restore import RestoreOptions, restore
from cairn.engine.restore_plan import current_umask
from tests.conftest import Machine
from tests.tmpfs import tmpfs


def test_a_read_only_target_is_refused_in_words(machine: Machine) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    (src / "a.txt").write_text("a")
    point = backup(machine.repo(), BackupOptions([str(src)])).point
    with tmpfs(machine.tmp / "ro") as target:
        (target / "inside").mkdir()
        subprocess.run(["mount", "-o", "remount,ro", str(target)], check=True)
        for where in (target, target / "inside", target / "new" / "deeper"):
            with pytest.raises(UsageError) as refused:
                restore(machine.repo(), point, RestoreOptions(target=str(where)))
            assert str(refused.value) == (
                f"the restore target {where} cannot be written (read-only file system):"
                " choose another folder, or make it writable"
            )
            with pytest.raises(UsageError) as at_submission:
                check_params("restore", {"target": str(where)})
            assert str(at_submission.value) == str(refused.value)
    with pytest.raises(UsageError, match="is not a folder"):
        check_params("restore", {"target": str(src / "a.txt")})
    machine.check_clean()


def test_without_permissions_restored_files_take_this_machines_defaults(machine: Machine) -> None:
    src = machine.tmp / "src"
    src.mkdir()
    secret = src / "secret.txt"
    secret.write_text("s")
    secret.chmod(0o600)
    os.chown(secret, 1234, 1234)
    tool = src / "tool.sh"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o700)
    point = backup(machine.repo(), BackupOptions([str(src)])).point
    kept = machine.tmp / "kept"
    restore(machine.repo(), point, RestoreOptions(target=str(kept)))
    as_recorded = kept / str(secret).lstrip("/")
    assert stat.S_IMODE(as_recorded.stat().st_mode) == 0o600
    assert as_recorded.stat().st_uid == 1234
    plain = machine.tmp / "plain"
    restore(machine.repo(), point, RestoreOptions(target=str(plain), permissions=False))
    umask = current_umask()
    restored = plain / str(secret).lstrip("/")
    assert restored.read_text() == "s"
    assert stat.S_IMODE(restored.stat().st_mode) == 0o666 & ~umask
    assert restored.stat().st_uid == os.geteuid()
    assert stat.S_IMODE((plain / str(tool).lstrip("/")).stat().st_mode) == 0o777 & ~umask
    machine.check_clean()
