"""AES-256-GCM with a random 96-bit nonce: sealed = nonce || ciphertext || tag."""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cairn.core.errors import IntegrityError

NONCE_BYTES = 12
TAG_BYTES = 16
OVERHEAD = NONCE_BYTES + TAG_BYTES


class Aead:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("an AES-256-GCM key is 32 bytes")
        self._aes = AESGCM(key)

    def encrypt(self, plaintext: bytes | bytearray | memoryview, ad: bytes) -> bytearray:
        nonce = secrets.token_bytes(NONCE_BYTES)
        out = bytearray(NONCE_BYTES + len(plaintext) + TAG_BYTES)
        out[:NONCE_BYTES] = nonce
        self._aes.encrypt_into(nonce, plaintext, ad, memoryview(out)[NONCE_BYTES:])
        return out

    def decrypt(self, sealed: bytes | bytearray | memoryview, ad: bytes) -> bytes:
        if len(sealed) < OVERHEAD:
            raise IntegrityError("a sealed object is shorter than its nonce and tag")
        view = memoryview(sealed)
        try:
            return self._aes.decrypt(bytes(view[:NONCE_BYTES]), bytes(view[NONCE_BYTES:]), ad)
        except InvalidTag:
            raise IntegrityError("a sealed object failed authentication") from None
