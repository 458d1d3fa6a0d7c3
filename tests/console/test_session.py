"""Console sessions: a signed cookie; forged, altered or expired ones are refused."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cairn.console import session as session_module
from cairn.console.session import Sessions


def test_a_session_is_read_back_with_its_csrf_token(tmp_path: Path) -> None:
    sessions = Sessions.in_home(tmp_path)
    made, cookie = sessions.new()
    read = sessions.read(cookie)
    assert read == made and len(made.csrf) > 20
    assert (tmp_path / "console.key").stat().st_mode & 0o777 == 0o600
    assert Sessions.in_home(tmp_path).read(cookie) == made  # the key outlives a restart


def test_forged_and_altered_cookies_are_refused(tmp_path: Path) -> None:
    sessions = Sessions.in_home(tmp_path)
    _, cookie = sessions.new()
    sid, expires, mac = cookie.split(".")
    assert sessions.read(f"{sid}.{int(expires) + 9999}.{mac}") is None
    assert sessions.read(f"x{sid}.{expires}.{mac}") is None
    assert sessions.read("") is None and sessions.read("a.b") is None
    assert Sessions.in_home(tmp_path / "other").read(cookie) is None  # another CAIRN_HOME


def test_an_expired_session_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sessions = Sessions.in_home(tmp_path)
    _, cookie = sessions.new()
    later = time.time() + session_module.LIFETIME_S + 1
    monkeypatch.setattr(session_module.time, "time", lambda: later)
    assert sessions.read(cookie) is None
