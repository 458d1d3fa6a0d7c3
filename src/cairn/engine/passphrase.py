"""`cairn passphrase change`: a new passphrase for this machine's store, never none.

The current passphrase is taken as every command takes it, and checked (against the verifier
kept in CAIRN_HOME, else against the vault's key files: exit 12 if wrong). Then, in this order:

  1. a new key file, the master key sealed under the new passphrase, is written to the vault;
  2. it is read back and opened with the new passphrase (and checked with the master key): if it
     does not give the same key, it is deleted again and nothing else changes;
  3. CAIRN_HOME's kept key takes the new passphrase's verifier (and CAIRN_HOME/passphrase, the
     one a first start made, the new passphrase, if it held the old one);
  4. the old key files are deleted: those the old passphrase opens, and damaged ones (so a
     damaged key file is rewritten while the kept key still opens the store). Key files of
     other passphrases are left alone.

Killed at any moment, the store opens with the old passphrase (up to step 4) or the new one
(from step 1); CAIRN_HOME opens it without either at every step, and a passphrase that does not
match its verifier is tried against the vault's key files (`session.open_repository`).
"""

from __future__ import annotations

from dataclasses import dataclass

from cairn.core.clock import Clock
from cairn.core.errors import BlobNotFound, CairnError, IntegrityError, UsageError
from cairn.engine.home import Home, write_private
from cairn.engine.session import PassphrasePrompt, check_new_passphrase, open_repository
from cairn.vault.keyfile import key_file_problem, make_key_file, open_key_file
from cairn.vault.vault import list_key_files

# The passphrase a first start (`make run`, agent/firststart.py) made and kept in CAIRN_HOME.
KEPT_PASSPHRASE_FILE = "passphrase"


@dataclass(frozen=True, slots=True)
class PassphraseChanged:
    machine: str
    new_key_id: str
    removed: list[str]  # ids of the old key files deleted
    rewritten_damaged: list[str]  # ids among them that were damaged
    kept_others: int  # key files of other passphrases, left alone


def change_passphrase(
    home: Home,
    clock: Clock,
    *,
    passphrase: str | None,
    new_passphrase: str,
    prompt: PassphrasePrompt | None = None,
) -> PassphraseChanged:
    """Replace the current passphrase's key file(s) with one for `new_passphrase`."""
    check_new_passphrase(new_passphrase)
    reg = home.registration()
    if passphrase is None:
        if prompt is None:
            raise UsageError(
                "changing the passphrase needs the current one: set CAIRN_PASSPHRASE or give"
                " --passphrase-file FILE"
            )
        passphrase = prompt(f"the current passphrase of machine {reg.machine!r}")
    if passphrase == new_passphrase:
        raise UsageError("the new passphrase is the current one: choose another")
    repo = open_repository(home, clock, passphrase=passphrase)  # checks it: exit 12 if wrong
    key, layout, store = repo.key, repo.layout, repo.store
    before = list_key_files(store, layout)

    key_id, data = make_key_file(key, new_passphrase, clock.now())
    store.put(layout.key(key_id), data)
    try:
        back = store.get(layout.key(key_id))
        opened = open_key_file(key_id, back, new_passphrase)
        if opened is None or opened.secret != key.secret or key_file_problem(key_id, back, key):
            raise IntegrityError(f"the new key file {layout.key(key_id)} did not read back whole")
    except CairnError:
        try:
            store.delete(layout.key(key_id))
        except CairnError:
            pass
        raise
    home.save_key(reg.vault_id, reg.machine, key, new_passphrase)
    _follow_kept_passphrase(home, passphrase, new_passphrase)

    removed, damaged, others = [], [], 0
    for old_id, old in before:
        bad = key_file_problem(old_id, old, key) is not None
        if not bad:
            try:
                mine = open_key_file(old_id, old, passphrase)
            except IntegrityError:
                bad = True
                mine = None
            if mine is None and not bad:
                others += 1
                continue
        try:
            store.delete(layout.key(old_id))
        except BlobNotFound:
            pass
        removed.append(old_id)
        if bad:
            damaged.append(old_id)
    return PassphraseChanged(reg.machine, key_id, removed, damaged, others)


def _follow_kept_passphrase(home: Home, old: str, new: str) -> None:
    path = home.path / KEPT_PASSPHRASE_FILE
    try:
        kept = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return
    if kept == old:
        write_private(path, new.encode() + b"\n")
