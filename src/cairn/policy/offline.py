"""The offline initial backup's settings: where the first backup is staged, and the import job's
name (docs/offline.md). Pure: whether the staging folder is local and writable is checked by the
engine when the policy is set (`engine.settings.save_policy`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath
from typing import Final

from cairn.core.errors import UsageError

IMPORT_JOB: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""An import job's name: 1 to 64 characters of A-Z a-z 0-9 . _ -, starting with a letter or
digit (it is written on the disks and into file names, so nothing else is safe)."""


@dataclass(frozen=True, slots=True)
class OfflineSeeding:
    """`[offline]`: the staging folder (an absolute local path) and the import job's name."""

    staging: str
    import_job: str

    def __post_init__(self) -> None:
        check_import_job(self.import_job, "offline.import_job")
        staging = self.staging
        if not isinstance(staging, str) or not staging:
            raise UsageError(f"offline.staging: {staging!r} is not a folder path")
        if "://" in staging or staging.startswith(("azure:", "s3:", "file:")):
            raise UsageError(
                f"offline.staging: {staging!r} is not a local folder; the staging location is a"
                " folder on this machine (a local or USB disk), not a vault location"
            )
        if "\x00" in staging:
            raise UsageError(f"offline.staging: {staging!r} contains a NUL character")
        if not (PurePosixPath(staging).is_absolute() or PureWindowsPath(staging).is_absolute()):
            raise UsageError(f"offline.staging: {staging!r} is not an absolute path")


def check_import_job(name: object, field: str = "--import-job") -> str:
    if not isinstance(name, str) or IMPORT_JOB.fullmatch(name) is None:
        raise UsageError(
            f"{field}: {name!r} is not an import job name; use 1 to 64 characters A-Z, a-z, 0-9,"
            " '.', '_' or '-', starting with a letter or digit"
        )
    return name
