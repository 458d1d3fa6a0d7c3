"""Passphrase -> key-encryption key. Argon2id (RFC 9106) with its parameters stored beside the key."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

MIN_PASSPHRASE_CHARS = 16


@dataclass(frozen=True, slots=True)
class KdfParams:
    algorithm: str
    salt: bytes
    iterations: int
    memory_kib: int
    lanes: int

    @classmethod
    def default(cls) -> KdfParams:
        # About 0.2 s on this project's 2-core machine.
        return cls("argon2id", secrets.token_bytes(16), iterations=4, memory_kib=64 * 1024, lanes=4)

    def check(self) -> None:
        """Refuse parameters a hostile vault could use to exhaust this machine, or that are weak."""
        if self.algorithm != "argon2id":
            raise ValueError(f"unknown key derivation {self.algorithm!r}")
        if not (1 <= self.iterations <= 64 and 8 * 1024 <= self.memory_kib <= 4 * 1024 * 1024):
            raise ValueError("key derivation parameters out of range")
        if not (1 <= self.lanes <= 64 and len(self.salt) >= 16):
            raise ValueError("key derivation parameters out of range")


def derive(passphrase: str, params: KdfParams) -> bytes:
    params.check()
    kdf = Argon2id(
        salt=params.salt,
        length=32,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    )
    return kdf.derive(passphrase.encode("utf-8"))
