"""The one exception tree of Cairn, each class carrying its exit code.

    CairnError (1)
    ├── UsageError (2)              bad flags, bad input, a bad exclusion pattern
    ├── NotRegistered (10)          no vault at the location, or this machine is not registered
    ├── Locked (11)                 another process holds a conflicting lock (the message names it)
    ├── WrongPassphrase (12)
    ├── NoSpace (13)                the vault, the restore target or CAIRN_HOME is full (the message says which)
    ├── UnsafeTarget (1)            restore met a symlink, or a folder swapped, in its target (local)
    ├── DamageFound (14)            check failed, restore met damaged data, referenced data missing
    │   └── IntegrityError          one sealed object failed to open (a MAC or a hash did not match)
    ├── AwaitingImport (1)          offline seeding: the staged first backup is not imported yet
    ├── StorageError (1)            the vault's storage failed (vault side: stops the job)
    │   ├── BlobNotFound
    │   └── TransientStorageError   a failure worth retrying (timeout, reset, 5xx, 429/503)
    ├── AppendOnly (2)              the vault is append-only: a delete or overwrite refused
    ├── HookFailed (1)              a required pre-backup hook failed: no recovery point
    ├── SnapshotFailed (1)          a required filesystem snapshot could not be made: no point
    ├── DeliveryFailed (1)          an alert could not be sent (the channel and the cause named)
    └── Interrupted (130)           interrupted or cancelled

Only the CLI entry point turns these into `sys.exit`. Per-file problems during a backup (a file
we cannot read) are collected as warnings, never raised across layers.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_WARNINGS = 3
EXIT_NOT_REGISTERED = 10
EXIT_LOCKED = 11
EXIT_WRONG_PASSPHRASE = 12
EXIT_NO_SPACE = 13
EXIT_DAMAGE = 14
EXIT_INTERRUPTED = 130


class CairnError(Exception):
    """Base of every error Cairn raises on purpose; `exit_code` is what the CLI exits with."""

    exit_code = EXIT_ERROR


class UsageError(CairnError):
    exit_code = EXIT_USAGE


class NotRegistered(CairnError):
    exit_code = EXIT_NOT_REGISTERED


class Locked(CairnError):
    exit_code = EXIT_LOCKED


class WrongPassphrase(CairnError):
    exit_code = EXIT_WRONG_PASSPHRASE


class NoSpace(CairnError):
    exit_code = EXIT_NO_SPACE


class UnsafeTarget(CairnError):
    """Something in the restore target would lead a write elsewhere: a symlink where the point has
    a folder, or a folder moved or replaced while the restore ran. A local problem, not damage in
    the vault: restore stops, having written nothing through it."""


class DamageFound(CairnError):
    exit_code = EXIT_DAMAGE


class IntegrityError(DamageFound):
    """A sealed object or a blob failed verification: its bytes are not what was written."""


class AwaitingImport(CairnError):
    """The machine's first backup is staged for an offline import that has not happened yet:
    backups wait (the message names the import job and what to do next)."""


class StorageError(CairnError):
    """The vault's storage failed; the job stops and the vault stays consistent."""


class BlobNotFound(StorageError):
    pass


class AccessDenied(StorageError):
    """The storage refused the credentials (401/403, a bad signature): permanent, never retried.
    The engine adds which credential was used and where it came from, never its value."""


class TransientStorageError(StorageError):
    """A storage failure that may succeed if tried again: a timeout, a reset, 5xx, 429/503.

    Backends raise it for those; the retrying wrapper retries only it. Every other StorageError is
    permanent (authentication, 4xx) and raised at once.
    """


class UnsafePath(DamageFound):
    """A vault entry would write outside the restore target: the vault is damaged or hostile."""


class AppendOnly(UsageError):
    """The vault is append-only (`vault create --append-only`): deleting or replacing refused."""


class HookFailed(CairnError):
    """A required pre-backup hook failed (exit code or timeout): the backup did not run."""


class SnapshotFailed(CairnError):
    """The policy's required snapshot could not be made (engine/snapshot.py): no recovery point."""


class DeliveryFailed(CairnError):
    """An alert could not be sent to a webhook or an SMTP server (it is retried later)."""


class Interrupted(CairnError):
    exit_code = EXIT_INTERRUPTED
