"""`vault.json` (the vault) and `machines/<m>/config` (one machine's store): plaintext JSON.

vault.json: {"format": "cairn-vault", "version": 1, "vault_id": hex, "created": ISO time}
            (+ "append_only": true for a vault made append-only; absent: false)
            (+ "object_lock_days": N for an S3 vault with Object Lock; absent: none)
config:     {"version": 1, "features": [], "chunker": {"algorithm": "fastcdc-permuted", "avg": n,
             "min": n, "max": n}, "compression": {"algorithm": "zstd", "level": n},
             "aead": "aes-256-gcm", "id_hash": "blake3-keyed"}
A client MUST refuse a version or a feature it does not know.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cairn.codec.chunker import AVG_SIZE, MAX_SIZE, MIN_SIZE, check_sizes
from cairn.codec.compression import DEFAULT_LEVEL
from cairn.core.errors import CairnError, IntegrityError
from cairn.core.ids import is_hex_id, random_id

VAULT_FORMAT = "cairn-vault"
VAULT_VERSION = 1
STORE_VERSION = 1
KNOWN_FEATURES: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class VaultInfo:
    vault_id: str
    created: str
    version: int
    append_only: bool = False
    object_lock_days: int | None = None

    @classmethod
    def new(
        cls, now: datetime, append_only: bool = False, object_lock_days: int | None = None
    ) -> VaultInfo:
        return cls(random_id(16), now.isoformat(), VAULT_VERSION, append_only, object_lock_days)

    def encode(self) -> bytes:
        doc = {
            "format": VAULT_FORMAT,
            "version": self.version,
            "vault_id": self.vault_id,
            "created": self.created,
        }
        if self.append_only:
            doc["append_only"] = True
        if self.object_lock_days is not None:
            doc["object_lock_days"] = self.object_lock_days
        return json.dumps(doc, indent=1).encode()

    @classmethod
    def decode(cls, data: bytes, location: str) -> VaultInfo:
        try:
            doc = json.loads(data)
            if not isinstance(doc, dict) or doc.get("format") != VAULT_FORMAT:
                raise IntegrityError(f"{location} is not a Cairn vault")
            version = int(doc["version"])
        except (KeyError, TypeError, ValueError):
            raise IntegrityError(f"{location}: vault.json is damaged") from None
        if version > VAULT_VERSION:
            raise CairnError(
                f"{location} is a vault of format {version}; this Cairn reads up to"
                f" {VAULT_VERSION}: upgrade Cairn"
            )
        vault_id = doc.get("vault_id")
        if not isinstance(vault_id, str) or not is_hex_id(vault_id, 16):
            raise IntegrityError(f"{location}: vault.json has an invalid vault id")
        append_only = doc.get("append_only", False)
        if not isinstance(append_only, bool):
            raise IntegrityError(f"{location}: vault.json has an invalid append_only")
        lock = doc.get("object_lock_days")
        if lock is not None and (isinstance(lock, bool) or not isinstance(lock, int) or lock < 1):
            raise IntegrityError(f"{location}: vault.json has an invalid object_lock_days")
        return cls(vault_id, str(doc.get("created", "")), version, append_only, lock)


@dataclass(frozen=True, slots=True)
class StoreConfig:
    chunk_avg: int = AVG_SIZE
    chunk_min: int = MIN_SIZE
    chunk_max: int = MAX_SIZE
    level: int = DEFAULT_LEVEL

    def encode(self) -> bytes:
        doc: dict[str, Any] = {
            "version": STORE_VERSION,
            "features": [],
            "chunker": {
                "algorithm": "fastcdc-permuted",
                "avg": self.chunk_avg,
                "min": self.chunk_min,
                "max": self.chunk_max,
            },
            "compression": {"algorithm": "zstd", "level": self.level},
            "aead": "aes-256-gcm",
            "id_hash": "blake3-keyed",
        }
        return json.dumps(doc, indent=1).encode()

    @classmethod
    def decode(cls, data: bytes, where: str) -> StoreConfig:
        try:
            doc = json.loads(data)
            version = int(doc["version"])
            features = set(doc.get("features", []))
        except (KeyError, TypeError, ValueError):
            raise IntegrityError(f"{where} is damaged") from None
        if version > STORE_VERSION or features - KNOWN_FEATURES:
            raise CairnError(
                f"{where} needs a newer Cairn (store version {version},"
                f" features {sorted(features - KNOWN_FEATURES)}): upgrade Cairn"
            )
        try:
            ch = doc["chunker"]
            comp = doc["compression"]
            cfg = cls(int(ch["avg"]), int(ch["min"]), int(ch["max"]), int(comp["level"]))
            algorithms = (ch["algorithm"], comp["algorithm"], doc["aead"], doc["id_hash"])
        except (KeyError, TypeError, ValueError):
            raise IntegrityError(f"{where} is damaged") from None
        if algorithms != ("fastcdc-permuted", "zstd", "aes-256-gcm", "blake3-keyed"):
            raise CairnError(f"{where} names algorithms this Cairn does not know: {algorithms}")
        try:
            check_sizes(cfg.chunk_avg, cfg.chunk_min, cfg.chunk_max)
            if cfg.chunk_min < 64 << 10:
                raise ValueError(f"min {cfg.chunk_min} is below 64 KiB")
        except ValueError as e:
            raise IntegrityError(f"{where} has chunker sizes out of range: {e}") from None
        if not 1 <= cfg.level <= 19:
            raise IntegrityError(f"{where} has a compression level out of range")
        return cfg
