from __future__ import annotations

import fnmatch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pathspec import GitIgnoreSpec

from cairn.core.errors import UsageError
from cairn.fs import platform
from cairn.fs.exclusions import Exclusions


def excluded(patterns: list[str], path: bytes, is_dir: bool = False, **kw: bool) -> bool:
    return Exclusions(patterns, **kw).excludes(path, is_dir)


# --- the rules, one by one -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "is_dir", "expected"),
    [
        (b"/a.tmp", False, True),
        (b"/home/u/deep/down/b.tmp", False, True),
        (b"/home/u/.tmp", False, True),
        (b"/home/u/dir.tmp", True, True),
        (b"/home/u/b.tmp.bak", False, False),
        (b"/home/u/btmp", False, False),
        (b"/home/u/b.TMP", False, False),
    ],
)
def test_a_name_pattern_matches_at_any_depth(path: bytes, is_dir: bool, expected: bool) -> None:
    assert excluded(["*.tmp"], path, is_dir, case_sensitive=True) is expected


def test_node_modules_and_dot_cache_are_excluded_anywhere_with_their_contents() -> None:
    ex = Exclusions(["node_modules", ".cache"], case_sensitive=True)

    assert ex.excludes(b"/srv/app/node_modules", True)
    assert ex.excludes(b"/srv/app/node_modules/left-pad/index.js", False)
    assert ex.excludes(b"/home/u/.cache", True)
    assert ex.excludes(b"/home/u/.cache/pip/http/x", False)
    assert not ex.excludes(b"/home/u/cache", True)
    assert not ex.excludes(b"/home/u/node_modules2", True)
    assert not ex.excludes(b"/home/u/.cachex", True)
    assert not ex.excludes(b"/home/u/my.cache", True)


def test_a_pattern_with_a_slash_is_matched_against_the_absolute_path() -> None:
    ex = Exclusions(["/srv/data/cache"], case_sensitive=True)

    assert ex.excludes(b"/srv/data/cache", True)
    assert ex.excludes(b"/srv/data/cache", False)
    assert ex.excludes(b"/srv/data/cache/a/b", False)
    assert not ex.excludes(b"/mnt/srv/data/cache", True)
    assert not ex.excludes(b"/srv/data/cache2", True)
    assert not ex.excludes(b"/srv/data", True)
    assert not ex.excludes(b"/srv", True)


def test_a_star_stays_within_one_path_part() -> None:
    ex = Exclusions(["/home/*/tmp"], case_sensitive=True)

    assert ex.excludes(b"/home/alice/tmp", True)
    assert ex.excludes(b"/home/bob/tmp/x.txt", False)
    assert not ex.excludes(b"/home/alice/work/tmp", True)
    assert not ex.excludes(b"/home/tmp", True)


def test_a_star_part_matches_what_is_in_the_folder_not_the_folder_itself() -> None:
    ex = Exclusions(["/home/*"], case_sensitive=True)

    assert not ex.excludes(b"/home", True)
    assert ex.excludes(b"/home/alice", True)
    assert ex.excludes(b"/home/alice/notes.txt", False)


def test_a_double_star_crosses_path_parts() -> None:
    ex = Exclusions(["/srv/**/logs"], case_sensitive=True)

    assert ex.excludes(b"/srv/logs", True)
    assert ex.excludes(b"/srv/a/logs", True)
    assert ex.excludes(b"/srv/a/b/c/logs", False)
    assert ex.excludes(b"/srv/a/logs/today.log", False)
    assert not ex.excludes(b"/srv2/a/logs", True)
    assert not ex.excludes(b"/var/srv/a/logs", True)
    assert not ex.excludes(b"/srv/a/logs2", True)


def test_a_trailing_double_star_excludes_the_contents_but_not_the_folder() -> None:
    ex = Exclusions(["/srv/spool/**"], case_sensitive=True)

    assert not ex.excludes(b"/srv/spool", True)
    assert ex.excludes(b"/srv/spool/mail", True)
    assert ex.excludes(b"/srv/spool/mail/1", False)


def test_a_leading_double_star_matches_a_path_at_any_depth() -> None:
    ex = Exclusions(["**/build/out"], case_sensitive=True)

    assert ex.excludes(b"/build/out", True)
    assert ex.excludes(b"/src/proj/build/out", True)
    assert ex.excludes(b"/src/proj/build/out/a.o", False)
    assert not ex.excludes(b"/src/proj/build", True)
    assert not ex.excludes(b"/src/proj/build/output", True)


def test_a_pattern_ending_in_a_slash_matches_directories_only() -> None:
    ex = Exclusions(["build/", "/var/tmp/"], case_sensitive=True)

    assert ex.excludes(b"/src/build", True)
    assert not ex.excludes(b"/src/build", False)
    assert ex.excludes(b"/src/build/a.o", False)  # inside an excluded folder
    assert ex.excludes(b"/var/tmp", True)
    assert not ex.excludes(b"/var/tmp", False)


def test_question_mark_and_brackets_match_one_character_of_a_name() -> None:
    ex = Exclusions(["file?.txt", "*.[oa]", "v[0-9]", "x[!a-c]"], case_sensitive=True)

    assert ex.excludes(b"/d/file1.txt", False)
    assert not ex.excludes(b"/d/file.txt", False)
    assert not ex.excludes(b"/d/file12.txt", False)
    assert ex.excludes(b"/d/m.o", False)
    assert ex.excludes(b"/d/lib.a", False)
    assert not ex.excludes(b"/d/m.c", False)
    assert ex.excludes(b"/d/v7", True)
    assert not ex.excludes(b"/d/vx", True)
    assert ex.excludes(b"/d/xz", False)
    assert not ex.excludes(b"/d/xb", False)
    assert not ex.excludes(b"/d/x", True)  # a negated class never matches the "/" after a name


def test_question_mark_matches_one_character_not_one_byte() -> None:
    assert excluded(["caf?"], "/d/café".encode())
    assert not excluded(["caf?"], b"/d/caf")


def test_non_utf8_names_are_matched() -> None:
    ex = Exclusions(["*.bin", "/data/\udcff*"], case_sensitive=True)

    assert ex.excludes(b"/x/\xff\xfe.bin", False)
    assert ex.excludes(b"/data/\xffanything", False)
    assert not ex.excludes(b"/data/\xfeanything", False)


def test_a_newline_in_a_name_is_an_ordinary_character() -> None:
    ex = Exclusions(["foo", "*.tmp"], case_sensitive=True)

    assert not ex.excludes(b"/d/foo\n", False)
    assert not ex.excludes(b"/d/x.tmp\n", False)
    assert ex.excludes(b"/d/a\nb/foo", False)
    assert ex.excludes(b"/d/line1\nline2.tmp", False)


def test_case_insensitive_matching() -> None:
    ex = Exclusions(["*.TMP", "/Users/*/Library/Caches", "ÄRGER"], case_sensitive=False)

    assert ex.excludes(b"/x/a.tmp", False)
    assert ex.excludes(b"/users/bob/library/caches", True)
    assert ex.excludes("/x/ärger".encode(), True)
    assert not ex.excludes(b"/x/a.tmx", False)


def test_case_sensitive_matching() -> None:
    ex = Exclusions(["*.TMP", "ÄRGER"], case_sensitive=True)

    assert ex.excludes(b"/x/a.TMP", False)
    assert not ex.excludes(b"/x/a.tmp", False)
    assert not ex.excludes("/x/ärger".encode(), True)


def test_the_platform_decides_case_by_default() -> None:
    assert Exclusions(["a"]).case_sensitive is platform.case_sensitive_default()
    assert Exclusions(["a"], case_sensitive=False).case_sensitive is False


def test_case_sensitive_by_default_on_linux() -> None:
    import sys

    if not sys.platform.startswith("linux"):
        pytest.skip("Linux's default")
    assert excluded(["*.TMP"], b"/x/a.tmp") is False


def test_hash_and_escaped_characters_are_literal() -> None:
    ex = Exclusions(["#*#", "\\!important", "star\\*", "sp\\ "], case_sensitive=True)

    assert ex.excludes(b"/home/u/#notes.txt#", False)
    assert ex.excludes(b"/home/u/!important", False)
    assert ex.excludes(b"/home/u/star*", False)
    assert not ex.excludes(b"/home/u/stars", False)
    assert ex.excludes(b"/home/u/sp ", False)


def test_the_root_is_never_excluded() -> None:
    assert not excluded(["**", "*"], b"/", True)
    assert excluded(["**"], b"/etc", True)


def test_no_patterns_exclude_nothing() -> None:
    assert not excluded([], b"/anything", False)


def test_a_relative_path_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="not an absolute path"):
        excluded(["x"], b"x", False)


def test_many_patterns_each_keep_their_meaning() -> None:
    ex = Exclusions(
        [".cache", "node_modules", "__pycache__", "*.tmp", "/srv/data/cache", "/home/*/tmp",
         "/srv/**/logs", "build/", "/opt/**"],
        case_sensitive=True,
    )  # fmt: skip

    assert ex.excludes(b"/a/__pycache__", True)
    assert ex.excludes(b"/srv/x/logs", True)
    assert ex.excludes(b"/home/u/tmp", True)
    assert ex.excludes(b"/opt/x", False)
    assert not ex.excludes(b"/opt", True)
    assert not ex.excludes(b"/a/build", False)
    assert not ex.excludes(b"/home/u/docs/report.odt", False)


# --- refused patterns ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("", "is empty"),
        ("!*.log", "negation"),
        ("data/cache", "write '/data/cache'"),
        ("*/tmp", "does not start with it"),
        ("foo[", "unclosed '['"),
        ("[!", "unclosed '['"),
        ("/a//b", "empty path part"),
        ("a//", "empty path part"),
        ("/a/../b", "'..'"),
        ("/a/./b", "'.'"),
        ("foo\\", "lone '\\'"),
        ("[z-a]", "bad character range"),
        ("foo ", "ends with a space"),
        ("a\0b", "NUL"),
        ("[[:alpha:]]", "[:class:]"),
        ("/", "names no path"),
    ],
)
def test_a_bad_pattern_is_refused_naming_it_and_the_problem(pattern: str, problem: str) -> None:
    with pytest.raises(UsageError) as caught:
        Exclusions(["*.ok", pattern])

    assert caught.value.exit_code == 2
    message = str(caught.value)
    assert repr(pattern) in message
    assert problem in message


# --- against a tiny reference implementation, and against pathspec ---------------------------


def reference_excludes(pattern: str, path: str, is_dir: bool, case_sensitive: bool) -> bool:
    """Part by part: the path, or a folder above it, matches the pattern's parts."""
    if not case_sensitive:
        pattern, path = pattern.lower(), path.lower()
    dir_only = pattern.endswith("/")
    body = pattern[:-1] if dir_only else pattern
    if "/" not in body:
        pattern_parts = ["**", body]
    else:
        pattern_parts = body.removeprefix("/").split("/")
    parts = path[1:].split("/")
    for end in range(1, len(parts) + 1):
        prefix_is_dir = end < len(parts) or is_dir
        if (prefix_is_dir or not dir_only) and parts_match(pattern_parts, parts[:end]):
            return True
    return False


def parts_match(pattern_parts: list[str], parts: list[str]) -> bool:
    if not pattern_parts:
        return not parts
    head, rest = pattern_parts[0], pattern_parts[1:]
    if head == "**":
        if not rest:  # a trailing "**": whatever is inside
            return len(parts) >= 1
        return any(parts_match(rest, parts[i:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], head) and parts_match(rest, parts[1:])


NAMES = st.sampled_from(["a", "b", "ab", "ba", "A", "Ab", "a.b", "bb.a", "\u00e9"])
GLOB_TOKENS = st.sampled_from(["a", "b", "A", ".", "*", "?", "[ab]", "[!a]", "[a-b]", "\u00e9"])
GLOBS = (
    st.lists(GLOB_TOKENS, min_size=1, max_size=3).map("".join).filter(lambda g: g.strip(".") != "")
)
PARTS = st.one_of(GLOBS, GLOBS, st.just("**"))


@st.composite
def patterns(draw: st.DrawFn) -> str:
    shape = draw(st.sampled_from(["name", "anchored", "anywhere"]))
    if shape == "name":
        body = draw(GLOBS)
    else:
        parts = draw(st.lists(PARTS, min_size=1, max_size=4))
        body = ("/" if shape == "anchored" else "**/") + "/".join(parts)
    return body + ("/" if draw(st.booleans()) else "")


PATHS = st.lists(NAMES, min_size=1, max_size=5).map(lambda parts: "/" + "/".join(parts))


@settings(max_examples=600, deadline=None)
@given(
    st.lists(patterns(), min_size=1, max_size=3),
    PATHS,
    st.booleans(),
    st.booleans(),
)
def test_exclusions_agree_with_the_reference(
    pats: list[str], path: str, is_dir: bool, case_sensitive: bool
) -> None:
    expected = any(reference_excludes(p, path, is_dir, case_sensitive) for p in pats)

    got = Exclusions(pats, case_sensitive=case_sensitive).excludes(path.encode(), is_dir)

    assert got is expected


def pathspec_comparable(pattern: str) -> bool:
    """pathspec is gitwildmatch's reference, except on a trailing `**` (it excludes the folder
    itself), on `[!x]` and on a `***` part (each can match the `/` after a folder's name)."""
    parts = pattern.rstrip("/").split("/")
    return parts[-1] != "**" and "[!" not in pattern and "***" not in parts


@settings(max_examples=600, deadline=None)
@given(patterns().filter(pathspec_comparable), PATHS, st.booleans())
def test_exclusions_agree_with_pathspec_gitignore(pattern: str, path: str, is_dir: bool) -> None:
    spec = GitIgnoreSpec.from_lines([pattern])
    expected = spec.match_file(path[1:] + ("/" if is_dir else ""))

    got = Exclusions([pattern], case_sensitive=True).excludes(path.encode(), is_dir)

    assert got is expected


def test_the_reference_itself_knows_the_rules() -> None:
    # So that the comparison above cannot pass by both being wrong the same way.
    assert reference_excludes("*.tmp", "/a/b.tmp", False, True)
    assert not reference_excludes("/a/**", "/a", True, True)
    assert reference_excludes("/a/**", "/a/b", False, True)
    assert not reference_excludes("b/", "/a/b", False, True)
    assert reference_excludes("b/", "/a/b/c", False, True)
    assert not reference_excludes("/a/*/c", "/a/b/b/c", False, True)
    assert reference_excludes("/a/**/c", "/a/b/b/c", False, True)


# --- items that an exclusion matches (engine/scope.py uses these) ------------------------------


def test_blocking_names_each_pattern_with_the_highest_path_it_matches() -> None:
    exclusions = Exclusions(["obs", "*.tmp", "/x/**", "/elsewhere"], case_sensitive=True)

    assert exclusions.blocking(b"/x/obs/y/obs", True) == [
        ("obs", b"/x/obs"),
        ("/x/**", b"/x/obs"),
    ]
    assert exclusions.blocking(b"/d/keep.tmp", False) == [("*.tmp", b"/d/keep.tmp")]
    assert exclusions.blocking(b"/d/plain", True) == []


def test_inside_an_item_only_the_exclusions_that_do_not_match_it_apply() -> None:
    exclusions = Exclusions(["obs", "*.tmp"], case_sensitive=True)

    inside = exclusions.inside(b"/x/obs/y", True)

    assert inside.patterns == ("*.tmp",)
    assert not inside.excludes(b"/x/obs/y/obs", True)
    assert inside.excludes(b"/x/obs/y/a.tmp", False)
    assert exclusions.inside(b"/x/plain", True) is exclusions  # the common case costs nothing
