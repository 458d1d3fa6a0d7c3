"""Key files: the machine's master key sealed by a key derived from its passphrase.

    machines/<m>/keys/<id>  plaintext JSON:
    {"v": 1, "created": ISO time,
     "kdf": {"algorithm": "argon2id", "salt": b64, "iterations": n, "memory_kib": n, "lanes": n},
     "sealed": b64(nonce || AES-256-GCM(master key, ad = cairn/key/<id bytes>) || tag)}

Several key files mean several passphrases can open the store (a passphrase change adds one).
"""

from __future__ import annotations

import base64
import json
from datetime import datetime

from cairn.codec.aead import Aead
from cairn.codec.kdf import KdfParams, derive
from cairn.codec.keys import MasterKey
from cairn.codec.sealing import associated_data
from cairn.core.errors import IntegrityError, WrongPassphrase
from cairn.core.ids import random_id

KEY_VERSION = 1


def make_key_file(key: MasterKey, passphrase: str, now: datetime) -> tuple[str, bytes]:
    key_id = random_id()
    params = KdfParams.default()
    kek = derive(passphrase, params)
    sealed = Aead(kek).encrypt(key.secret, associated_data(b"key", bytes.fromhex(key_id)))
    doc = {
        "v": KEY_VERSION,
        "created": now.isoformat(),
        "kdf": {
            "algorithm": params.algorithm,
            "salt": base64.b64encode(params.salt).decode(),
            "iterations": params.iterations,
            "memory_kib": params.memory_kib,
            "lanes": params.lanes,
        },
        "sealed": base64.b64encode(sealed).decode(),
    }
    return key_id, json.dumps(doc, indent=1).encode()


def open_key_file(key_id: str, data: bytes, passphrase: str) -> MasterKey | None:
    """The master key, or None if this passphrase does not open this key file."""
    try:
        doc = json.loads(data)
        if doc["v"] != KEY_VERSION:
            raise IntegrityError(f"key file {key_id} has an unknown version")
        k = doc["kdf"]
        params = KdfParams(
            str(k["algorithm"]),
            base64.b64decode(k["salt"]),
            int(k["iterations"]),
            int(k["memory_kib"]),
            int(k["lanes"]),
        )
        sealed = base64.b64decode(doc["sealed"])
        params.check()
    except (KeyError, TypeError, ValueError) as e:
        raise IntegrityError(f"key file {key_id} is malformed: {e}") from None
    kek = derive(passphrase, params)
    try:
        secret = Aead(kek).decrypt(sealed, associated_data(b"key", bytes.fromhex(key_id)))
    except IntegrityError:
        return None
    return MasterKey(secret)


def unlock(key_files: list[tuple[str, bytes]], passphrase: str, machine: str) -> MasterKey:
    damaged: list[str] = []
    for key_id, data in key_files:
        try:
            key = open_key_file(key_id, data, passphrase)
        except IntegrityError as e:
            damaged.append(str(e))
            continue  # another key file may still open
        if key is not None:
            return key
    if damaged and len(damaged) == len(key_files):
        raise IntegrityError(f"every key file of machine {machine!r} is damaged: {damaged[0]}")
    raise WrongPassphrase(
        f"wrong passphrase for machine {machine!r}: it opens none of its {len(key_files)} key(s)."
        " Give the passphrase set when this machine registered (CAIRN_PASSPHRASE,"
        " --passphrase-file or the prompt)"
    )
