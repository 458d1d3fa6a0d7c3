"""A filesystem snapshot in the policy (pure: the engine makes it, engine/snapshot.py).

    [snapshot]
    kind = "btrfs"       # "btrfs" or "none" (the default: the backup reads the live files)
    required = true      # no snapshot possible: fail the job, no point (default); false: a
                         # warning, and the backup reads the live files

With `kind = "btrfs"` every backup of the policy's items reads them from read-only snapshots of
the btrfs subvolumes that hold them, made just before the walk (after the pre hooks) and deleted
after it (before the post hooks), so the point is one moment of the subvolume: the stand-in on
Linux for Windows' VSS. LVM snapshots are not built in: `kind = "lvm"` is refused with the way to
do it with hooks (docs/policy.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from cairn.core.errors import UsageError

KINDS = ("none", "btrfs")
_KEYS = ("kind", "required")
_LVM = (
    'snapshot.kind: "lvm" is not built in; make the snapshot in a pre hook (lvcreate --snapshot,'
    " then mount it read-only), put its mount point among the items, and remove it in a post hook"
    " (docs/policy.md, Snapshots)"
)


@dataclass(frozen=True, slots=True)
class SnapshotRule:
    kind: str = "none"
    required: bool = True

    def __bool__(self) -> bool:
        return self.kind != "none"


NO_SNAPSHOT: Final = SnapshotRule()


def snapshot_from_table(table: object) -> SnapshotRule:
    if not isinstance(table, Mapping):
        raise UsageError(f"[snapshot]: expected a table, got {table!r}")
    unknown = [k for k in table if k not in _KEYS]
    if unknown:
        raise UsageError(
            f"[snapshot]: unknown key snapshot.{unknown[0]}; allowed: {', '.join(_KEYS)}"
        )
    kind = table.get("kind", "none")
    if kind == "lvm":
        raise UsageError(_LVM)
    if kind not in KINDS:
        raise UsageError(
            f"snapshot.kind: {kind!r} is not a snapshot kind; allowed: "
            + ", ".join(f'"{k}"' for k in KINDS)
        )
    required = table.get("required", True)
    if not isinstance(required, bool):
        raise UsageError(f"snapshot.required: expected true or false, got {required!r}")
    return SnapshotRule(str(kind), required)


def snapshot_to_json(rule: SnapshotRule) -> dict[str, object]:
    return {"kind": rule.kind, "required": rule.required}
