"""A vault: `vault.json` and one store per machine under `machines/<machine>/`."""

from __future__ import annotations

from datetime import datetime

from cairn.codec.keys import MasterKey
from cairn.core.clock import Clock
from cairn.core.errors import BlobNotFound, CairnError, NotRegistered
from cairn.core.ids import is_hex_id
from cairn.storage.blobstore import BlobStore, put_if_absent
from cairn.vault import objectlock
from cairn.vault.appendonly import AppendOnlyBlobStore
from cairn.vault.keyfile import key_file_problem, make_key_file, unlock
from cairn.vault.layout import VAULT_FILE, MachineLayout
from cairn.vault.repository import Repository
from cairn.vault.vaultfile import StoreConfig, VaultInfo


class Vault:
    def __init__(self, store: BlobStore, clock: Clock) -> None:
        self.store = store
        self._info: VaultInfo | None = None  # vault.json never changes once written
        self.clock = clock

    @property
    def location(self) -> str:
        return self.store.location

    @classmethod
    def create(
        cls,
        store: BlobStore,
        clock: Clock,
        append_only: bool = False,
        object_lock_days: int | None = None,
    ) -> VaultInfo:
        try:
            store.stat(VAULT_FILE)
        except BlobNotFound:
            pass
        else:
            raise CairnError(f"{store.location} already holds a vault; register with it instead")
        if next(iter(store.list("")), None) is not None:
            raise CairnError(
                f"{store.location} is not empty: create a vault in an empty or new location"
            )
        if object_lock_days is not None:
            objectlock.prepare(store)
        info = VaultInfo.new(clock.now(), append_only, object_lock_days)
        if not put_if_absent(store, VAULT_FILE, info.encode()):
            raise CairnError(f"{store.location} already holds a vault; register with it instead")
        return info

    def info(self) -> VaultInfo:
        if self._info is not None:
            return self._info
        try:
            data = self.store.get(VAULT_FILE)
        except BlobNotFound:
            raise NotRegistered(
                f"no vault at {self.location}: create one with `cairn vault create {self.location}`"
            ) from None
        self._info = VaultInfo.decode(data, self.location)
        return self._info

    def machines(self) -> list[str]:
        names = set()
        for b in self.store.list("machines/"):
            parts = b.name.split("/")
            if len(parts) >= 3:
                names.add(parts[1])
        return sorted(names)

    def has_machine(self, machine: str) -> bool:
        try:
            self.store.stat(MachineLayout(machine).config)
        except BlobNotFound:
            return False
        return True

    def key_files(self, machine: str) -> list[tuple[str, bytes]]:
        return list_key_files(self.store, MachineLayout(machine))

    def config(self, machine: str) -> StoreConfig:
        layout = MachineLayout(machine)
        try:
            data = self.store.get(layout.config)
        except BlobNotFound:
            raise NotRegistered(
                f"machine {machine!r} is not registered in the vault at {self.location}"
            ) from None
        return StoreConfig.decode(data, f"{self.location}: {layout.config}")

    def init_machine(self, machine: str, passphrase: str, now: datetime) -> MasterKey:
        """Create a new machine store: config, then a key file (the write order of format.md)."""
        layout = MachineLayout(machine)
        key = MasterKey.generate()
        self.store.put(layout.config, StoreConfig().encode())
        key_id, data = make_key_file(key, passphrase, now)
        self.store.put(layout.key(key_id), data)
        return key

    def unlock(self, machine: str, passphrase: str) -> MasterKey:
        self.config(machine)
        files = self.key_files(machine)
        if not files:
            raise NotRegistered(f"machine {machine!r} in {self.location} has no key files")
        return unlock(files, passphrase, machine)

    def open(self, machine: str, key: MasterKey) -> Repository:
        """The machine's store; in an append-only vault, through `AppendOnlyBlobStore`."""
        info = self.info()
        if info.object_lock_days is not None:
            objectlock.enable(self.store, info.object_lock_days, self.clock.now)
        store = AppendOnlyBlobStore(self.store) if info.append_only else self.store
        return Repository(store, machine, key, self.config(machine), self.clock)


def list_key_files(store: BlobStore, layout: MachineLayout) -> list[tuple[str, bytes]]:
    out = []
    for b in store.list(layout.prefix("keys")):
        key_id = b.name.rsplit("/", 1)[1]
        if is_hex_id(key_id):  # anything else there (a copy, .DS_Store) is not a key file
            out.append((key_id, store.get(b.name)))
    return out


def key_file_damage(repo: Repository) -> list[str]:
    """`check`'s findings on the machine's key files, verified with the master key it holds (no
    passphrase needed): each damaged one named, and a store no sound key file opens any more."""
    layout = repo.layout
    errors = []
    files = list_key_files(repo.store, layout)
    for key_id, data in files:
        problem = key_file_problem(key_id, data, repo.key)
        if problem is not None:
            errors.append(f"key file {layout.key(key_id)} is damaged: {problem}")
    if len(errors) == len(files):
        errors.append(
            f"no sound key file is left for machine {layout.machine!r}: once this machine's"
            " CAIRN_HOME is lost, no passphrase opens its store. Run `cairn passphrase change`"
            " now (the key kept in CAIRN_HOME still opens it) to write a new key file"
        )
    return errors
