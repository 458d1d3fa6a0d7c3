"""Exclusion matching takes time linear in the path's length, whatever the pattern.

A backtracking translation of `*a*a*a*b` (or of `/**/a/**/a/**/b`) tries every way of splitting
the path among the stars: against a path of a few hundred characters that is minutes or years.
Each case below took from 20 s to far longer before the matcher committed to the first place each
piece matches; the bound is generous (a match takes microseconds)."""

from __future__ import annotations

import time

import pytest

from cairn.fs.exclusions import Exclusions

BOUND_S = 1.0

CASES = [
    # many stars in one name, against a long name of the starred letter
    ("*a*a*a*a*a*a*a*a*b", "/" + "a" * 400, False),
    ("*?*?*?*?*?*?*?*?*b", "/" + "x" * 400, False),
    ("[ab]*[ab]*[ab]*[ab]*[ab]*[ab]*c", "/" + "ab" * 200, False),
    # many double stars, against a deep path of the starred name
    ("/**/a/**/a/**/a/**/a/**/a/**/b", "/a" * 300, False),
    ("**/a/**/a/**/a/**/a/**/a/**/b/", "/a" * 300, True),
    ("/**/a*/**/*a/**/a*a/**/a*/**/*a/**/a/**/b", "/aa" * 300, False),
    # both at once, among other patterns that share the "any depth" prefix
    ("**/*a*a*a*a*a/**/a*a*a*a*b", "/" + "/".join(["a" * 30] * 40), False),
]


@pytest.mark.parametrize(("pattern", "path", "is_dir"), CASES)
def test_a_pathological_pattern_is_matched_quickly(pattern: str, path: str, is_dir: bool) -> None:
    exclusions = Exclusions([pattern, "*.tmp", "node_modules"], case_sensitive=True)

    start = time.perf_counter()
    got = exclusions.excludes(path.encode(), is_dir)
    elapsed = time.perf_counter() - start

    assert got is False
    assert elapsed < BOUND_S, f"{pattern!r} took {elapsed:.2f} s against {len(path)} characters"


def test_the_time_grows_no_faster_than_the_path() -> None:
    # Ten times the path costs about ten times the time, not a hundred or a million: measured on
    # the worst of the cases above, the best of five runs each, with a wide margin for noise.
    exclusions = Exclusions(["*a*a*a*a*a*a*a*a*b"], case_sensitive=True)

    def best(n: int) -> float:
        path = ("/" + "a" * n).encode()
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(20):
                exclusions.excludes(path, False)
            runs.append(time.perf_counter() - start)
        return min(runs)

    short, long = best(2_000), best(20_000)

    assert long < 40 * short, f"{short:.4f} s for 2,000 characters, {long:.4f} s for 20,000"


def test_the_same_patterns_still_match_what_they_should() -> None:
    exclusions = Exclusions(["*a*a*a*b", "/**/a/**/a/**/b", "**/x*y*z/**/q"], case_sensitive=True)

    assert exclusions.excludes(b"/xaayaab", False)
    assert exclusions.excludes(b"/r/aaab/c", False)  # a folder above matches
    assert not exclusions.excludes(b"/r/aab", False)
    assert exclusions.excludes(b"/a/x/a/y/b", False)
    assert exclusions.excludes(b"/a/x/a/y/b/inside", False)
    assert not exclusions.excludes(b"/a/x/b/y/a", False)
    assert exclusions.excludes(b"/m/xayaz/n/q", False)
    assert exclusions.excludes(b"/m/xyz/q/o", True)
    assert not exclusions.excludes(b"/m/xzy/n/q", False)
