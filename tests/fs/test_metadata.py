from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from cairn.fs import metadata, platform
from cairn.fs.metadata import apply_metadata, create_special, owner_names, read_xattrs

MTIME_NS = 1_234_567_890_123_456_789  # 2009-02-13, with every nanosecond digit significant
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")


def b(path: Path) -> bytes:
    return os.fsencode(path)


def set_user_xattr_or_skip(path: Path, name: str, value: bytes) -> None:
    try:
        os.setxattr(path, name, value)
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
            pytest.skip(f"the filesystem under {path.parent} refuses user.* xattrs ({e.strerror})")
        raise


def apply(path: Path, **overrides: object) -> list[str]:
    st = os.lstat(path)
    args: dict[str, object] = {
        "kind": "file",
        "mode": st.st_mode,
        "mtime_ns": st.st_mtime_ns,
        "uid": st.st_uid,
        "gid": st.st_gid,
        "user": None,
        "group": None,
        "xattrs": {},
        "set_owner": False,
    }
    args.update(overrides)
    return apply_metadata(b(path), **args)  # type: ignore[arg-type]


# --- xattrs ------------------------------------------------------------------------------------


def test_xattrs_set_and_read_back(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_text("x")
    set_user_xattr_or_skip(f, "user.cairn.note", b"\x00\xffany bytes")
    os.setxattr(f, "user.cairn.empty", b"")

    xattrs, warnings = read_xattrs(b(f))

    assert warnings == []
    assert xattrs["user.cairn.note"] == b"\x00\xffany bytes"
    assert xattrs["user.cairn.empty"] == b""


def test_xattrs_round_trip_through_apply_metadata(tmp_path: Path) -> None:
    source, restored = tmp_path / "source", tmp_path / "restored"
    source.write_text("x")
    restored.write_text("x")
    set_user_xattr_or_skip(source, "user.a", b"1")
    os.setxattr(source, "user.b", b"\x00\x01")
    xattrs, _ = read_xattrs(b(source))

    warnings = apply(restored, xattrs=xattrs)

    assert warnings == []
    assert read_xattrs(b(restored)) == (xattrs, [])


def test_a_symlinks_xattrs_are_its_own_not_its_targets(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_text("x")
    set_user_xattr_or_skip(target, "user.on-target", b"1")
    os.symlink("target", tmp_path / "link")

    xattrs, warnings = read_xattrs(b(tmp_path / "link"))

    assert "user.on-target" not in xattrs
    assert warnings == []


def test_no_xattr_support_reads_as_none(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def unsupported(path: bytes) -> list[str]:
        raise OSError(errno.ENOTSUP, "Operation not supported", path)

    monkeypatch.setattr(platform, "list_xattrs", unsupported)

    assert read_xattrs(b(tmp_path)) == ({}, [])


def test_an_unreadable_xattr_listing_is_a_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def denied(path: bytes) -> list[str]:
        raise PermissionError(errno.EACCES, "Permission denied", path)

    monkeypatch.setattr(platform, "list_xattrs", denied)

    xattrs, warnings = read_xattrs(b"/some/\xffpath")

    assert xattrs == {}
    assert warnings == ["/some/\\xffpath: cannot list extended attributes: Permission denied"]


def test_an_unreadable_xattr_is_a_warning_and_a_vanished_one_is_left_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = {"user.ok": b"1"}

    def get(path: bytes, name: str) -> bytes:
        if name == "user.gone":
            raise OSError(errno.ENODATA, "No data available", path)
        if name == "trusted.secret":
            raise PermissionError(errno.EPERM, "Operation not permitted", path)
        return values[name]

    monkeypatch.setattr(
        platform, "list_xattrs", lambda path: ["user.gone", "user.ok", "trusted.secret"]
    )
    monkeypatch.setattr(platform, "get_xattr", get)

    xattrs, warnings = read_xattrs(b"/f")

    assert xattrs == {"user.ok": b"1"}
    assert warnings == [
        "/f: cannot read extended attribute 'trusted.secret': Operation not permitted"
    ]


# --- mode, times -------------------------------------------------------------------------------


def test_mode_and_exact_mtime_round_trip_on_a_file(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_text("x")

    warnings = apply(f, mode=stat.S_IFREG | 0o4751, mtime_ns=MTIME_NS)

    st = os.lstat(f)
    assert warnings == []
    assert stat.S_IMODE(st.st_mode) == 0o4751
    assert st.st_mtime_ns == MTIME_NS
    assert st.st_atime_ns == MTIME_NS


def test_mode_and_mtime_on_a_directory(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()

    assert apply(d, kind="dir", mode=0o1750, mtime_ns=MTIME_NS) == []

    st = os.lstat(d)
    assert stat.S_IMODE(st.st_mode) == 0o1750
    assert st.st_mtime_ns == MTIME_NS


def test_a_symlink_gets_its_own_mtime_and_its_target_is_untouched(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_text("x")
    os.chmod(target, 0o640)
    before = os.stat(target)
    link = tmp_path / "link"
    os.symlink("target", link)

    warnings = apply(link, kind="symlink", mode=stat.S_IFLNK | 0o777, mtime_ns=MTIME_NS)

    assert warnings == []
    assert os.lstat(link).st_mtime_ns == MTIME_NS
    after = os.stat(target)
    assert after.st_mtime_ns == before.st_mtime_ns
    assert stat.S_IMODE(after.st_mode) == 0o640


def test_mode_is_never_set_through_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_text("x")
    os.chmod(target, 0o600)
    os.symlink("target", tmp_path / "link")

    # The engine believes it restored a file here, but a symlink took its place.
    warnings = apply(tmp_path / "link", kind="file", mode=0o777, mtime_ns=MTIME_NS)

    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert len(warnings) == 1
    assert "cannot set mode 0777" in warnings[0]


def test_failures_are_warnings_not_exceptions(tmp_path: Path) -> None:
    missing = tmp_path / "missing"

    warnings = apply_metadata(
        b(missing), kind="file", mode=0o644, mtime_ns=MTIME_NS, uid=0, gid=0, user=None,
        group=None, xattrs={"user.a": b"1"}, set_owner=True,
    )  # fmt: skip

    assert len(warnings) == 4
    assert all(w.startswith(f"{missing}: cannot ") for w in warnings)
    assert [w.split(": ")[1].split(" ")[2] for w in warnings] == [
        "owner", "extended", "mode", "modification",
    ]  # fmt: skip


# --- owners ------------------------------------------------------------------------------------


@needs_root
def test_owner_is_set_from_the_numbers_when_the_names_are_unknown_here(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_text("x")

    warnings = apply(
        f, uid=4321, gid=8765, user="no-such-user-cairn", group="no-such-group-cairn",
        set_owner=True,
    )  # fmt: skip

    st = os.lstat(f)
    assert warnings == []
    assert (st.st_uid, st.st_gid) == (4321, 8765)


@needs_root
def test_a_name_that_exists_here_wins_over_the_recorded_number(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_text("x")
    os.chown(f, 1111, 2222)

    assert apply(f, uid=4321, gid=8765, user="root", group="root", set_owner=True) == []

    st = os.lstat(f)
    assert (st.st_uid, st.st_gid) == (0, 0)


@needs_root
def test_the_owner_is_left_alone_unless_asked(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_text("x")
    os.chown(f, 1111, 2222)

    assert apply(f, uid=4321, gid=8765, set_owner=False) == []

    st = os.lstat(f)
    assert (st.st_uid, st.st_gid) == (1111, 2222)


@needs_root
def test_setuid_survives_the_owner_change_because_mode_comes_after(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_text("x")

    assert apply(f, uid=4321, gid=8765, mode=0o6755, set_owner=True) == []

    st = os.lstat(f)
    assert (st.st_uid, st.st_gid) == (4321, 8765)
    assert stat.S_IMODE(st.st_mode) == 0o6755


@needs_root
def test_a_symlinks_own_owner_is_set_not_its_targets(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_text("x")
    os.symlink("target", tmp_path / "link")

    warnings = apply(tmp_path / "link", kind="symlink", uid=4321, gid=8765, set_owner=True)

    assert warnings == []
    assert os.lstat(tmp_path / "link").st_uid == 4321
    assert os.stat(target).st_uid == 0


def test_owner_names_of_root_and_of_unknown_ids() -> None:
    assert owner_names(0, 0) == ("root", "root")
    assert owner_names(3_999_999_999, 3_999_999_999) == (None, None)


def test_owner_names_are_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def counting(uid: int) -> str:
        calls.append(uid)
        return f"user{uid}"

    metadata._user_name.cache_clear()
    monkeypatch.setattr(platform, "user_name", counting)
    try:
        assert owner_names(77, 0)[0] == "user77"
        assert owner_names(77, 0)[0] == "user77"
    finally:
        metadata._user_name.cache_clear()

    assert calls == [77]


# --- special files -----------------------------------------------------------------------------


def test_create_a_fifo(tmp_path: Path) -> None:
    path = tmp_path / "fifo"

    create_special(b(path), "fifo", stat.S_IFIFO | 0o644, 0)

    st = os.lstat(path)
    assert stat.S_ISFIFO(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600


def test_create_special_does_not_follow_a_symlink(tmp_path: Path) -> None:
    os.symlink(tmp_path / "elsewhere", tmp_path / "link")

    with pytest.raises(FileExistsError):
        create_special(b(tmp_path / "link"), "fifo", 0o644, 0)

    assert not (tmp_path / "elsewhere").exists()


@needs_root
@pytest.mark.parametrize(
    ("kind", "is_kind"), [("chardev", stat.S_ISCHR), ("blockdev", stat.S_ISBLK)]
)
def test_create_a_device_node_as_root(tmp_path: Path, kind: str, is_kind: object) -> None:
    rdev = os.makedev(1, 3)
    path = tmp_path / "dev"

    create_special(b(path), kind, 0o666, rdev)  # type: ignore[arg-type]

    st = os.lstat(path)
    assert is_kind(st.st_mode)  # type: ignore[operator]
    assert st.st_rdev == rdev


def test_a_device_node_needs_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)

    with pytest.raises(PermissionError, match="needs root"):
        create_special(b(tmp_path / "dev"), "chardev", 0o666, os.makedev(1, 3))

    assert not os.path.lexists(tmp_path / "dev")


def test_a_socket_is_not_recreated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="socket is not recreated"):
        create_special(b(tmp_path / "sock"), "socket", 0o755, 0)

    assert not os.path.lexists(tmp_path / "sock")


@pytest.mark.parametrize("kind", ["file", "dir", "symlink"])
def test_create_special_refuses_ordinary_kinds(tmp_path: Path, kind: str) -> None:
    with pytest.raises(ValueError, match=f"does not create a {kind}"):
        create_special(b(tmp_path / "x"), kind, 0o755, 0)  # type: ignore[arg-type]
