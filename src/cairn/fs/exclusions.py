"""Exclusion patterns: gitignore's wildmatch syntax, matched against absolute paths.

Rules:

- A pattern without `/` matches a name at any depth: `*.tmp`, `node_modules`, `.cache`.
- A pattern with `/` is matched against the absolute path, so it must start with `/`
  (`/srv/data/cache`, `/home/*/tmp`, `/srv/**/logs`) or with `**/` (`**/build/out`: at any
  depth). `data/cache` is refused: gitignore would anchor it at the root, which is rarely meant.
- `*` and `?` match within one path part (`?` is one character, not one byte), `[abc]`, `[a-z]`
  and `[!a-z]` match one character of a part; `**` as a whole part matches any number of parts
  (`/srv/**` matches everything under `/srv` but not `/srv` itself); `\\` makes the next
  character literal.
- A pattern ending in `/` matches directories only (`cache/`).
- A matched directory is excluded with everything in it: `excludes` answers True for a path
  inside it too, so a backup item that lies inside an excluded folder is excluded as well.
- `#` and a leading space are literal (patterns come one per entry, not from a file).
- Negation (`!pattern`) is refused: exclusions only exclude. The walk does not enter an excluded
  folder, so a negation could only ever rescue names excluded by another name pattern; write the
  exclusion more narrowly instead. `\\!` matches a leading `!`.
- Also refused, each with a message naming the pattern: an empty pattern, a NUL, an unescaped
  trailing space, an empty part (`//`), a `.` or `..` part, an unclosed `[`, a `[:class:]`,
  a trailing lone `\\`, a bad range (`[z-a]`).

Case: case-sensitive on Linux, insensitive on macOS and Windows, unless `case_sensitive` says.

The patterns compile into one regular expression, matched once per call against the path's
text (UTF-8 with surrogateescape, so any byte name works) with a `/` appended for a directory.
This reimplements gitignore's wildmatch rather than calling pathspec, because pathspec's
expressions (1.1) match `foo` against a name `foo` followed by a newline but not against `foo`
inside a folder whose name holds a newline, match `dir/**` against the folder itself, and let
`[!x]` match a `/`. The tests check these rules against a small reference implementation, and
against pathspec's GitIgnoreSpec wherever the two are meant to agree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from cairn.core.errors import UsageError
from cairn.fs import platform

__all__ = ["Exclusions"]


class Exclusions:
    """A compiled set of exclusion patterns; see the module docstring for the rules."""

    __slots__ = ("_match", "case_sensitive", "patterns")

    def __init__(self, patterns: Sequence[str], *, case_sensitive: bool | None = None) -> None:
        """Compile `patterns`; an invalid one raises `UsageError` naming it and the problem."""
        self.patterns: tuple[str, ...] = tuple(patterns)
        self.case_sensitive: bool = (
            platform.case_sensitive_default() if case_sensitive is None else case_sensitive
        )
        flags = re.DOTALL | (0 if self.case_sensitive else re.IGNORECASE)
        names: list[str] = []  # patterns that are one run of parts at any depth: one shared skip
        alternatives: list[str] = []
        for pattern in self.patterns:
            shape, source = _compiled(pattern, flags)
            (names if shape == _NAME else alternatives).append(source)
        if names:
            alternatives.append(f"(?>{_SKIP_PARTS}(?:" + "|".join(names) + "))")
        self._match: Callable[[str], re.Match[str] | None] | None = None
        if alternatives:
            self._match = re.compile("|".join(f"(?:{r})" for r in alternatives), flags).match

    def __repr__(self) -> str:
        return f"Exclusions({list(self.patterns)!r}, case_sensitive={self.case_sensitive})"

    def excludes(self, path: bytes, is_dir: bool) -> bool:
        """Whether `path` (absolute, normalised) is excluded, itself or by a parent folder.

        The root `/` is never excluded.
        """
        if self._match is None:
            return False
        if path[:1] != b"/":
            raise ValueError(f"not an absolute path: {path!r}")
        text = path[1:].decode("utf-8", "surrogateescape")
        if not text:
            return False
        if is_dir:
            text += "/"
        return self._match(text) is not None

    def blocking(self, item: bytes, is_dir: bool) -> list[tuple[str, bytes]]:
        """The patterns that match the item (absolute, normalised) or a folder above it, each
        with the highest such path: those for which `excludes` would leave out the whole item."""
        if self._match is None or not self.excludes(item, is_dir):
            return []
        parts = item.strip(b"/").split(b"/")
        out = []
        for pattern in self.patterns:
            alone = Exclusions([pattern], case_sensitive=self.case_sensitive)
            for end in range(1, len(parts) + 1):  # from the top: the first match is the highest
                path = b"/" + b"/".join(parts[:end])
                if alone.excludes(path, end < len(parts) or is_dir):
                    out.append((pattern, path))
                    break
        return out

    def inside(self, item: bytes, is_dir: bool) -> Exclusions:
        """The exclusions to apply inside `item`: those that match neither the item nor a folder
        above it (a named item is backed up whole: see docs/policy.md)."""
        blocking = {pattern for pattern, _ in self.blocking(item, is_dir)}
        if not blocking:
            return self
        kept = [p for p in self.patterns if p not in blocking]
        return Exclusions(kept, case_sensitive=self.case_sensitive)


# Zero or more whole path parts, as few as will do (the paths are normal: no empty part).
_SKIP_PARTS = "(?:[^/]*/)*?"
_NAME = "name"  # a pattern that is `**/` and one run of parts: it shares the skip with the others
_FULL = "full"  # a pattern whose regex stands alone


def _compiled(pattern: str, flags: int) -> tuple[str, str]:
    """`_regex(pattern)`, after checking that it compiles."""
    shape, source = _regex(pattern)
    try:
        re.compile(source if shape == _FULL else f"(?>{_SKIP_PARTS}(?:{source}))", flags)
    except re.error as e:
        raise _bad(pattern, f"is not a valid pattern ({e.msg})") from None
    return shape, source


def _bad(pattern: str, problem: str) -> UsageError:
    return UsageError(f"exclusion pattern {pattern!r} {problem}")


def _regex(pattern: str) -> tuple[str, str]:
    """Translate one pattern into a regex matched (re.match) against the path without its
    leading `/`, followed by `/` if it is a directory. The shape says whether the regex stands
    alone (`_FULL`) or is one run of parts to follow a shared `_SKIP_PARTS` (`_NAME`).

    Linear time: the regex never tries two ways of splitting the path among stars. Each `**`
    skips as few parts as it must until the run of named parts after it matches, and then keeps
    that place (an atomic group): the first place is always as good as a later one, because what
    follows is again a `**` (it can skip whatever a later place would have skipped) or the end of
    the pattern (a match, since a folder above a path excludes it). Within a part, each star
    likewise keeps the first place the fixed piece after it matches; only the last piece, which
    must end the part, is tried at each place: time part length x piece length."""
    if not pattern:
        raise _bad(pattern, "is empty")
    if "\0" in pattern:
        raise _bad(pattern, "contains a NUL character")
    if pattern.startswith("!"):
        raise _bad(
            pattern,
            "is a negation, which is not supported: exclusions only exclude "
            "(write '\\!' for a name that starts with '!')",
        )
    if pattern[-1].isspace() and not pattern.endswith("\\ "):
        raise _bad(pattern, "ends with a space (write '\\ ' if the space is part of the name)")
    if pattern == "/":
        raise _bad(pattern, "names no path")
    if "//" in pattern:
        raise _bad(pattern, "has an empty path part ('//')")
    dir_only = pattern.endswith("/")
    body = pattern[:-1] if dir_only else pattern
    if "/" not in body:
        parts = ["**", body]
    elif body.startswith("/"):
        parts = body[1:].split("/")
    elif body.startswith("**/"):
        parts = body.split("/")
    else:
        raise _bad(
            pattern,
            "contains '/' but does not start with it: a pattern with '/' is matched against "
            f"the absolute path, so write '/{body}' (or '**/{body}' to match at any depth)",
        )
    for part in parts:
        if not part:
            raise _bad(pattern, "has an empty path part ('//')")
        if part in (".", ".."):
            raise _bad(pattern, f"has a {part!r} part; paths are matched in absolute, normal form")
    collapsed = [
        p for i, p in enumerate(parts) if not (p == "**" and i > 0 and parts[i - 1] == "**")
    ]

    if collapsed == ["**"]:  # "**", "/**": everything; "**/", "/**/": every directory's subtree
        return _FULL, ".*/" if dir_only else ".*"
    # Runs of named parts, each after a `**` but the first (which is empty for `**/...`).
    runs: list[list[str]] = [[]]
    for part in collapsed:
        if part == "**":
            runs.append([])
        else:
            runs[-1].append(_part_regex(pattern, part))
    ends_in_stars = not runs[-1]
    if ends_in_stars:
        runs.pop()  # the trailing `**`: everything under the folder, not the folder itself
    end = "/" if dir_only else r"(?:/|\Z)"
    pieces: list[str] = []
    for i, run in enumerate(runs):
        if not run:
            continue  # the empty run before a leading `**`
        last = i == len(runs) - 1
        source = "/".join(run) + ("/" if not last or ends_in_stars else end)
        pieces.append(source if i == 0 else f"(?>{_SKIP_PARTS}{source})")
    if ends_in_stars:
        pieces.append(".+/" if dir_only else ".+")
    if len(runs) == 2 and not runs[0] and not ends_in_stars:
        return _NAME, "/".join(runs[1]) + end  # `**/` and one run: shares the skip
    return _FULL, "".join(pieces)


def _part_regex(pattern: str, part: str) -> str:
    """Translate one path part's glob (`*`, `?`, `[...]`, `\\`) into a regex that never
    backtracks over its stars (see `_regex`)."""
    if part.strip("*") == "":
        return "[^/]+"  # a part is never empty: `/a/*` must not match the folder `a/` itself
    pieces: list[list[str]] = [[]]  # the fixed pieces between stars, each one character a token
    i, end = 0, len(part)
    while i < end:
        char = part[i]
        i += 1
        if char == "\\":
            if i == end:
                raise _bad(pattern, "ends with a lone '\\'")
            pieces[-1].append(re.escape(part[i]))
            i += 1
        elif char == "*":
            if pieces[-1] or len(pieces) == 1:
                pieces.append([])
        elif char == "?":
            pieces[-1].append("[^/]")
        elif char == "[":
            bracket, i = _bracket_regex(pattern, part, i)
            pieces[-1].append(bracket)
        else:
            pieces[-1].append(re.escape(char))
    if len(pieces) == 1:
        return "".join(pieces[0])
    first, *middle, last = ("".join(p) for p in pieces)
    # Each star before a middle piece keeps the first place that piece matches; the last star
    # takes what is left but the last piece (empty when the part ends with a star).
    return first + "".join(f"(?>[^/]*?{m})" for m in middle if m) + "[^/]*" + last


def _bracket_regex(pattern: str, part: str, start: int) -> tuple[str, int]:
    """Translate the bracket expression whose `[` is just before `start`; return the regex
    and the index after its `]`."""
    i, end = start, len(part)
    negate = i < end and part[i] in "!^"
    if negate:
        i += 1
    members: list[str] = []
    first = True
    while True:
        if i >= end:
            raise _bad(pattern, "has an unclosed '['")
        char = part[i]
        if char == "]" and not first:
            i += 1
            break
        if char == "[" and i + 1 < end and part[i + 1] in ":.=":
            raise _bad(pattern, "uses a '[:class:]' form, which is not supported")
        if char == "\\":
            i += 1
            if i >= end:
                raise _bad(pattern, "has an unclosed '['")
            members.append(re.escape(part[i]))
        elif char == "-" and not first and i + 1 < end and part[i + 1] != "]":
            members.append("-")
        else:
            members.append(re.escape(char))
        first = False
        i += 1
    return ("[^/" if negate else "[") + "".join(members) + "]", i
