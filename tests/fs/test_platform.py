from __future__ import annotations

import errno
import os
import stat
import sys
from pathlib import Path

import pytest

from cairn.fs import platform

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux behaviour")


@linux_only
def test_linux_names_are_case_sensitive() -> None:
    assert platform.case_sensitive_default() is True


def test_macos_and_windows_names_are_case_insensitive() -> None:
    from cairn.fs.platform import darwin, windows

    assert darwin.case_sensitive_default() is False
    assert windows.case_sensitive_default() is False


@linux_only
def test_chmod_nofollow_sets_the_mode_of_a_file(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_text("x")

    platform.chmod_nofollow(os.fsencode(f), 0o2710)

    assert stat.S_IMODE(os.lstat(f).st_mode) == 0o2710


@linux_only
def test_chmod_nofollow_refuses_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_text("x")
    os.chmod(target, 0o600)
    os.symlink("target", tmp_path / "link")

    with pytest.raises(OSError) as caught:
        platform.chmod_nofollow(os.fsencode(tmp_path / "link"), 0o777)

    assert caught.value.errno == errno.ELOOP
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600


def test_the_account_database_knows_root_and_not_a_made_up_name() -> None:
    if sys.platform == "win32":
        pytest.skip("no POSIX accounts")
    assert platform.user_name(0) == "root"
    assert platform.user_id("root") == 0
    assert platform.group_id("root") == 0
    assert platform.user_id("no-such-user-cairn") is None
    assert platform.group_name(3_999_999_999) is None
