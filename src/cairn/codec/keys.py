"""The machine's master key and the subkeys derived from it.

A master key is 64 random bytes. Nothing is ever sealed with it directly: HKDF-SHA256 derives
  - `id_key`      keys the BLAKE3 hash that names chunks and trees,
  - `chunker_key` seeds the secret byte permutation of the chunker,
  - `seal_key`    the root from which each session's AEAD key is derived:
                  session key = HKDF(seal_key, info = b"cairn session" + session id).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MASTER_KEY_BYTES = 64
SESSION_ID_BYTES = 16


def hkdf(secret: bytes, info: bytes, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(secret)


@dataclass(frozen=True, slots=True)
class MasterKey:
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) != MASTER_KEY_BYTES:
            raise ValueError("a master key is 64 bytes")

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(secrets.token_bytes(MASTER_KEY_BYTES))

    @property
    def id_key(self) -> bytes:
        return hkdf(self.secret, b"cairn id key")

    @property
    def chunker_key(self) -> bytes:
        return hkdf(self.secret, b"cairn chunker key")

    def passphrase_check(self, passphrase: str) -> bytes:
        """A fast verifier of the passphrase, kept beside the stored master key in CAIRN_HOME (as
        secret as the key itself), so a given passphrase is checked without the slow KDF."""
        key = hkdf(self.secret, b"cairn passphrase check")
        return hmac.new(key, passphrase.encode("utf-8"), hashlib.sha256).digest()

    def session_key(self, session_id: bytes) -> bytes:
        if len(session_id) != SESSION_ID_BYTES:
            raise ValueError("a session id is 16 bytes")
        return hkdf(hkdf(self.secret, b"cairn seal key"), b"cairn session" + session_id)


def new_session_id() -> bytes:
    return secrets.token_bytes(SESSION_ID_BYTES)
