"""AES-256-GCM with a random 96-bit nonce: sealed = nonce || ciphertext || tag.

Besides whole-message `encrypt` and `decrypt`, `seal_into` encrypts a message given in parts straight
into a caller's buffer and `matches` checks a sealed message against its parts piece by piece, so a
large object is sealed and verified without a copy of it (GCM is a stream: the output is the same).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cairn.core.errors import IntegrityError

NONCE_BYTES = 12
TAG_BYTES = 16
OVERHEAD = NONCE_BYTES + TAG_BYTES
# Below this, joining the parts and one AESGCM call beats setting up a streaming cipher.
STREAM_FROM_BYTES = 64 << 10
# Verification decrypts this much at a time into a scratch buffer.
PIECE_BYTES = 256 << 10
_BLOCK = 16

Buffer = bytes | bytearray | memoryview


class Aead:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("an AES-256-GCM key is 32 bytes")
        self._key = key
        self._aes = AESGCM(key)
        self._scratch: bytearray | None = None

    def encrypt(self, plaintext: Buffer, ad: bytes) -> bytearray:
        out = bytearray(NONCE_BYTES + len(plaintext) + TAG_BYTES)
        self.seal_into((plaintext,), ad, memoryview(out))
        return out

    def seal_into(self, parts: Sequence[Buffer], ad: bytes, out: memoryview) -> int:
        """Encrypt the concatenation of `parts` into `out` (nonce, ciphertext, tag); returns the
        sealed length. `out` must hold at least that many bytes."""
        size = sum(len(p) for p in parts)
        sealed = NONCE_BYTES + size + TAG_BYTES
        if len(out) < sealed:
            raise ValueError("the output buffer is too small")
        nonce = secrets.token_bytes(NONCE_BYTES)
        out[:NONCE_BYTES] = nonce
        if size < STREAM_FROM_BYTES or len(parts) == 1:
            message = parts[0] if len(parts) == 1 else b"".join(parts)
            self._aes.encrypt_into(nonce, message, ad, out[NONCE_BYTES:sealed])
            return sealed
        enc = Cipher(algorithms.AES(self._key), modes.GCM(nonce)).encryptor()
        enc.authenticate_additional_data(ad)
        at = NONCE_BYTES
        for p in parts:
            # update_into wants room for a block more than it writes; the tag's place gives it.
            at += enc.update_into(p, out[at : at + len(p) + _BLOCK - 1])
        enc.finalize()
        out[at:sealed] = enc.tag
        return sealed

    def matches(self, sealed: Buffer, ad: bytes, parts: Sequence[Buffer]) -> bool:
        """Whether `sealed` authenticates and decrypts to the concatenation of `parts`, decrypted
        piece by piece into a small scratch buffer (no copy of a large object)."""
        view = memoryview(sealed)
        size = len(view) - OVERHEAD
        if size != sum(len(p) for p in parts):
            return False
        if size < STREAM_FROM_BYTES:
            try:
                plain = self.decrypt(view, ad)
            except IntegrityError:
                return False
            return plain == b"".join(parts)
        if self._scratch is None:
            self._scratch = bytearray(PIECE_BYTES + _BLOCK)
        scratch = self._scratch
        nonce, ct, tag = view[:NONCE_BYTES], view[NONCE_BYTES:-TAG_BYTES], view[-TAG_BYTES:]
        dec = Cipher(algorithms.AES(self._key), modes.GCM(bytes(nonce), bytes(tag))).decryptor()
        dec.authenticate_additional_data(ad)
        same = True
        at = 0
        for p in parts:
            pv = memoryview(p)
            for start in range(0, len(pv), PIECE_BYTES):
                piece = pv[start : start + PIECE_BYTES]
                with memoryview(scratch) as into:
                    n = dec.update_into(ct[at : at + len(piece)], into)
                # A bytearray compares with any buffer by memcmp; a memoryview byte by byte.
                same = same and scratch[:n] == piece
                at += len(piece)
        try:
            dec.finalize()
        except InvalidTag:
            return False
        return same

    def decrypt(self, sealed: Buffer, ad: bytes) -> bytes:
        if len(sealed) < OVERHEAD:
            raise IntegrityError("a sealed object is shorter than its nonce and tag")
        view = memoryview(sealed)
        try:
            return self._aes.decrypt(view[:NONCE_BYTES], view[NONCE_BYTES:], ad)  # no copies
        except InvalidTag:
            raise IntegrityError("a sealed object failed authentication") from None
