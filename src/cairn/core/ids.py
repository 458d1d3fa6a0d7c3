"""Random ids (hex) for objects named by chance: sessions, recovery points, index segments, locks."""

from __future__ import annotations

import secrets

ID_BYTES = 32


def random_id(nbytes: int = ID_BYTES) -> str:
    """A fresh random id, lowercase hex."""
    return secrets.token_hex(nbytes)


def is_hex_id(text: str, nbytes: int = ID_BYTES) -> bool:
    """True if `text` is a lowercase hex id of `nbytes` bytes."""
    if len(text) != 2 * nbytes:
        return False
    return all(c in "0123456789abcdef" for c in text)
