"""zstd compression with a hard bound on what a (possibly hostile) frame may expand to."""

from __future__ import annotations

import threading

import zstandard

from cairn.core.errors import IntegrityError

DEFAULT_LEVEL = 2
_local = threading.local()


def _compressor(level: int) -> zstandard.ZstdCompressor:
    cache: dict[int, zstandard.ZstdCompressor] | None = getattr(_local, "c", None)
    if cache is None:
        cache = _local.c = {}
    c = cache.get(level)
    if c is None:
        c = cache[level] = zstandard.ZstdCompressor(level=level, write_content_size=True)
    return c


def _decompressor() -> zstandard.ZstdDecompressor:
    d: zstandard.ZstdDecompressor | None = getattr(_local, "d", None)
    if d is None:
        d = _local.d = zstandard.ZstdDecompressor()
    return d


def compress(data: bytes | memoryview, level: int = DEFAULT_LEVEL) -> bytes:
    return bytes(_compressor(level).compress(data))


def decompress(data: bytes | bytearray | memoryview, max_size: int) -> bytes:
    """Decompress one frame; refuse a frame that claims or yields more than `max_size` bytes."""
    try:
        params = zstandard.get_frame_parameters(data)
        if params.content_size > max_size:
            raise IntegrityError(f"a compressed frame claims {params.content_size} bytes")
        out = _decompressor().decompress(data, max_output_size=max_size)
    except zstandard.ZstdError as e:
        raise IntegrityError(f"a compressed frame is damaged: {e}") from None
    return bytes(out)
