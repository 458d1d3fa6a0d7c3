"""The fs layer: what the engine needs from the local file system.

- `walk`: `FsEntry`, `Kind`, `kind_of`, `stat_entry`, `list_dir` (one directory at a time, lstat,
  names as bytes).
- `exclusions`: `Exclusions` (gitignore-style patterns on absolute paths).
- `metadata`: `read_xattrs`, `owner_names`, `apply_metadata`, `create_special`.
- `safety`: `check_name`, `safe_join`, `open_for_restore` (restore never writes outside its
  target).
- `folders`: `Folders`, `Folder` (restore's folders, each opened from its parent's descriptor, so
  no path a local user could swap is resolved).
- `conflict`: `copy_name` (MARS's "Copy of" naming).
- `platform`: what differs between operating systems.

It imports only `cairn.core`, the standard library and nothing else.
"""

from __future__ import annotations

from cairn.fs.conflict import copy_name
from cairn.fs.exclusions import Exclusions
from cairn.fs.folders import Folder, Folders
from cairn.fs.metadata import apply_metadata, create_special, owner_names, read_xattrs
from cairn.fs.safety import check_name, open_for_restore, safe_join
from cairn.fs.walk import FsEntry, Kind, kind_of, list_dir, stat_entry

__all__ = [
    "Exclusions",
    "Folder",
    "Folders",
    "FsEntry",
    "Kind",
    "apply_metadata",
    "check_name",
    "copy_name",
    "create_special",
    "kind_of",
    "list_dir",
    "open_for_restore",
    "owner_names",
    "read_xattrs",
    "safe_join",
    "stat_entry",
]
