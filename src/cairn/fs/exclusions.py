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
        anywhere: list[str] = []  # patterns that start with `**/`: one shared prefix
        anchored: list[str] = []
        for pattern in self.patterns:
            is_anywhere, source = _compiled(pattern, flags)
            (anywhere if is_anywhere else anchored).append(source)
        if anywhere:
            anchored.append(_ANY_PARTS + "(?:" + "|".join(anywhere) + ")")
        self._match: Callable[[str], re.Match[str] | None] | None = None
        if anchored:
            self._match = re.compile("|".join(f"(?:{r})" for r in anchored), flags).match

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


_ANY_PARTS = "(?:.+/)?"  # zero or more leading path parts (matched with re.DOTALL)


def _compiled(pattern: str, flags: int) -> tuple[bool, str]:
    """`_regex(pattern)`, after checking that it compiles."""
    is_anywhere, source = _regex(pattern)
    try:
        re.compile((_ANY_PARTS if is_anywhere else "") + source, flags)
    except re.error as e:
        raise _bad(pattern, f"is not a valid pattern ({e.msg})") from None
    return is_anywhere, source


def _bad(pattern: str, problem: str) -> UsageError:
    return UsageError(f"exclusion pattern {pattern!r} {problem}")


def _regex(pattern: str) -> tuple[bool, str]:
    """Translate one pattern into a regex matched (re.match) against the path without its
    leading `/`, followed by `/` if it is a directory. The bool says the regex is to follow
    `_ANY_PARTS` (the pattern starts with `**/`, said or implied)."""
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
        return False, ".*/" if dir_only else ".*"
    regex = ""
    is_anywhere = collapsed[0] == "**"
    if is_anywhere:
        collapsed = collapsed[1:]
    last = len(collapsed) - 1
    for i, part in enumerate(collapsed):
        if part == "**":
            # Only after a named part. Inside: zero or more parts. At the end: everything
            # under the folder (but not the folder itself); with a trailing `/`, its folders.
            if i < last:
                regex += "(?:.+/)?"
            else:
                regex += ".+/" if dir_only else ".+"
        else:
            regex += _part_regex(pattern, part)
            if i < last:
                regex += "/"
            else:
                regex += "/" if dir_only else r"(?:/|\Z)"
    return is_anywhere, regex


def _part_regex(pattern: str, part: str) -> str:
    """Translate one path part's glob (`*`, `?`, `[...]`, `\\`) into a regex."""
    if part.strip("*") == "":
        return "[^/]+"  # a part is never empty: `/a/*` must not match the folder `a/` itself
    out: list[str] = []
    i, end = 0, len(part)
    while i < end:
        char = part[i]
        i += 1
        if char == "\\":
            if i == end:
                raise _bad(pattern, "ends with a lone '\\'")
            out.append(re.escape(part[i]))
            i += 1
        elif char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            bracket, i = _bracket_regex(pattern, part, i)
            out.append(bracket)
        else:
            out.append(re.escape(char))
    return "".join(out)


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
