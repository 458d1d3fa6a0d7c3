"""Key files: the machine's master key sealed by a key derived from its passphrase.

    machines/<m>/keys/<id>  plaintext JSON:
    {"v": 1, "created": ISO time,
     "kdf": {"algorithm": "argon2id", "salt": b64, "iterations": n, "memory_kib": n, "lanes": n},
     "sealed": b64(nonce || AES-256-GCM(master key, ad = cairn/key/<id bytes>) || tag),
     "checksum": hex SHA-256 of the content, "mac": hex HMAC-SHA256 of it under the master key}

Several key files mean several passphrases can open the store (a passphrase change adds one).

A damaged key file must not pass for a wrong passphrase: `checksum` (no key needed) tells a
damaged file from one this passphrase does not open, and `mac` (a key derived from the master
key) lets `check` verify every key file with the master key kept in CAIRN_HOME, no passphrase
needed. Key files written before these fields existed (the frozen v1 fixture) have neither: they
open as before and check can only parse them. See docs/format.md, "Key files".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from cairn.codec.aead import Aead
from cairn.codec.kdf import KdfParams, derive
from cairn.codec.keys import MasterKey, hkdf
from cairn.codec.sealing import associated_data
from cairn.core.errors import IntegrityError, WrongPassphrase
from cairn.core.ids import random_id

KEY_VERSION = 1
CONTENT_PREFIX = b"cairn/keyfile/"


def content(key_id: str, doc: dict[str, Any]) -> bytes:
    """The bytes `checksum` and `mac` cover: the prefix, the raw key id, then the canonical JSON
    (sorted keys, no spaces, ASCII) of every field but those two."""
    body = {k: v for k, v in doc.items() if k not in ("checksum", "mac")}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return CONTENT_PREFIX + bytes.fromhex(key_id) + canonical.encode()


def _mac(key: MasterKey, data: bytes) -> str:
    return hmac.new(hkdf(key.secret, b"cairn key file mac"), data, hashlib.sha256).hexdigest()


def make_key_file(key: MasterKey, passphrase: str, now: datetime) -> tuple[str, bytes]:
    key_id = random_id()
    params = KdfParams.default()
    kek = derive(passphrase, params)
    sealed = Aead(kek).encrypt(key.secret, associated_data(b"key", bytes.fromhex(key_id)))
    doc: dict[str, Any] = {
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
    data = content(key_id, doc)
    doc["checksum"] = hashlib.sha256(data).hexdigest()
    doc["mac"] = _mac(key, data)
    return key_id, json.dumps(doc, indent=1).encode()


def _parse(key_id: str, data: bytes) -> tuple[dict[str, Any], KdfParams, bytes]:
    where = f"key file keys/{key_id}"
    try:
        doc = json.loads(data)
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object")
        if doc["v"] != KEY_VERSION:
            raise IntegrityError(f"{where} is damaged: unknown version {doc['v']!r}")
        k = doc["kdf"]
        params = KdfParams(
            str(k["algorithm"]),
            base64.b64decode(k["salt"], validate=True),
            int(k["iterations"]),
            int(k["memory_kib"]),
            int(k["lanes"]),
        )
        sealed = base64.b64decode(doc["sealed"], validate=True)
    except (KeyError, TypeError, ValueError) as e:
        raise IntegrityError(f"{where} is damaged: malformed ({e})") from None
    return doc, params, sealed


def _checksum_ok(key_id: str, doc: dict[str, Any]) -> bool | None:
    """True or False; None for a key file written without a checksum."""
    want = doc.get("checksum")
    if want is None:
        return None
    got = hashlib.sha256(content(key_id, doc)).hexdigest()
    return isinstance(want, str) and hmac.compare_digest(want, got)


def key_file_problem(key_id: str, data: bytes, key: MasterKey) -> str | None:
    """What is wrong with this key file, checked with the master key (no passphrase): it must
    parse, carry a sane KDF, and its checksum and mac must match. None when it is sound."""
    try:
        doc, params, sealed = _parse(key_id, data)
        params.check()
    except IntegrityError as e:
        return str(e).removeprefix(f"key file keys/{key_id} is damaged: ")
    except ValueError as e:
        return str(e)
    if len(sealed) != 12 + 64 + 16:
        return f"its sealed key has {len(sealed)} bytes, not 92"
    if _checksum_ok(key_id, doc) is False:
        return "its checksum does not match its content"
    mac = doc.get("mac")
    if mac is not None and not (
        isinstance(mac, str) and hmac.compare_digest(mac, _mac(key, content(key_id, doc)))
    ):
        return "it was not written with this machine's master key, or was changed since"
    return None


def has_checksum(data: bytes) -> bool:
    try:
        doc = json.loads(data)
    except ValueError:
        return False
    return isinstance(doc, dict) and "checksum" in doc and "mac" in doc


def open_key_file(key_id: str, data: bytes, passphrase: str) -> MasterKey | None:
    """The master key, or None if this passphrase does not open this key file.

    `IntegrityError` when the file is damaged: it does not parse, or this passphrase does not
    open it and its checksum shows why (a damaged file, not a wrong passphrase)."""
    doc, params, sealed = _parse(key_id, data)
    try:
        params.check()
    except ValueError as e:
        raise IntegrityError(f"key file keys/{key_id} is damaged: malformed ({e})") from None
    kek = derive(passphrase, params)
    try:
        secret = Aead(kek).decrypt(sealed, associated_data(b"key", bytes.fromhex(key_id)))
    except IntegrityError:
        if _checksum_ok(key_id, doc) is False:
            raise IntegrityError(
                f"key file keys/{key_id} is damaged: its checksum does not match its content"
            ) from None
        return None
    return MasterKey(secret)


def unlock(key_files: list[tuple[str, bytes]], passphrase: str, machine: str) -> MasterKey:
    damaged: list[str] = []
    for key_id, data in key_files:
        try:
            key = open_key_file(key_id, data, passphrase)
        except IntegrityError as e:
            damaged.append(str(e).replace("key file keys/", f"key file machines/{machine}/keys/"))
            continue  # another key file may still open
        if key is not None:
            return key
    if damaged and len(damaged) == len(key_files):
        raise IntegrityError(
            f"no key file of machine {machine!r} opens, and not because of the passphrase: "
            + "; ".join(damaged)
            + ". Restore the key file from a copy of the vault, or, on a machine that still keeps"
            " the key in CAIRN_HOME, run `cairn passphrase change` to write a new one"
        )
    raise WrongPassphrase(
        f"wrong passphrase for machine {machine!r}: it opens none of its {len(key_files)} key(s)."
        " Give the passphrase set when this machine registered (CAIRN_PASSPHRASE,"
        " --passphrase-file or the prompt)" + (f" ({'; '.join(damaged)})" if damaged else "")
    )
