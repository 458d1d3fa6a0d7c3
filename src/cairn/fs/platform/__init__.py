"""What differs between operating systems, behind one set of names.

The rest of `cairn.fs` imports only from here, never from a platform module directly:

- `case_sensitive_default()`: whether exclusion patterns match case-sensitively by default.
- `list_xattrs`, `get_xattr`, `set_xattr`: extended attributes of a path, never following a
  symlink; they raise `OSError` with `errno.ENOTSUP` where the platform has none.
- `chmod_nofollow(path, mode)`: set permission bits without following a symlink that may have
  replaced `path` (raises `OSError` with `errno.ELOOP` if `path` is a symlink).
- `user_name`, `group_name`, `user_id`, `group_id`: the account database (`None` when unknown).

Linux is complete; macOS and Windows are stubs that keep the package importable.
"""

from __future__ import annotations

import sys

if sys.platform == "win32":
    from cairn.fs.platform.windows import (
        case_sensitive_default,
        chmod_nofollow,
        get_xattr,
        group_id,
        group_name,
        list_xattrs,
        set_xattr,
        user_id,
        user_name,
    )
elif sys.platform == "darwin":
    from cairn.fs.platform.darwin import (
        case_sensitive_default,
        chmod_nofollow,
        get_xattr,
        group_id,
        group_name,
        list_xattrs,
        set_xattr,
        user_id,
        user_name,
    )
else:
    from cairn.fs.platform.linux import (
        case_sensitive_default,
        chmod_nofollow,
        get_xattr,
        group_id,
        group_name,
        list_xattrs,
        set_xattr,
        user_id,
        user_name,
    )

__all__ = [
    "case_sensitive_default",
    "chmod_nofollow",
    "get_xattr",
    "group_id",
    "group_name",
    "list_xattrs",
    "set_xattr",
    "user_id",
    "user_name",
]
