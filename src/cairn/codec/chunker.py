"""Keyed content-defined chunking: FastCDC over a secretly permuted byte stream.

pyfastcdc's own `seed` only XORs one 64-bit value into the gear table, which published attacks on
chunk-size fingerprinting recover from a few known chunks. Instead, the bytes are first mapped through
a secret permutation of 0..255 derived from the machine's chunker key (`bytes.translate`, one fast pass),
which amounts to a secret permuted gear table. Cut points are found on the permuted copy; chunks are
slices of the original bytes. Chunk sizes are kept out of sight inside sealed pack headers.

Reading is streamed through one fixed buffer, with a permuted twin of the same size that is filled
as the bytes come in (a piece at a time, so no whole-buffer copy is ever made and no byte is permuted
twice), so memory stays bounded whatever the file size.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from blake3 import blake3
from pyfastcdc import FastCDC

AVG_SIZE = 1 << 20
MIN_SIZE = 256 << 10
MAX_SIZE = 4 << 20
BUFFER_SIZE = MAX_SIZE + MAX_SIZE // 4  # more than one maximal chunk, so every pass cuts one
PIECE_SIZE = 1 << 20  # read and permuted this much at a time


def permutation(key: bytes) -> bytes:
    """A secret permutation of the 256 byte values, drawn from `key` by Fisher-Yates."""
    stream = blake3(b"cairn chunker permutation", key=key).digest(length=4 * 256)
    table = list(range(256))
    for i in range(255, 0, -1):
        r = int.from_bytes(stream[4 * i : 4 * i + 4], "little")
        j = r % (i + 1)
        table[i], table[j] = table[j], table[i]
    return bytes(table)


def check_sizes(avg_size: int, min_size: int, max_size: int) -> None:
    """Refuse sizes the chunker cannot use (pyfastcdc's own bounds, and min <= avg <= max)."""
    if not (
        64 <= min_size <= 1 << 20
        and 256 <= avg_size <= 4 << 20
        and 1024 <= max_size <= 16 << 20
        and min_size <= avg_size <= max_size
    ):
        raise ValueError(
            f"chunk sizes out of range: min {min_size}, avg {avg_size}, max {max_size}"
            " (min 64..1 MiB, avg 256..4 MiB, max 1 KiB..16 MiB, min <= avg <= max)"
        )


class Chunker:
    def __init__(
        self,
        key: bytes,
        avg_size: int = AVG_SIZE,
        min_size: int = MIN_SIZE,
        max_size: int = MAX_SIZE,
    ) -> None:
        self._table = permutation(key)
        self._cdc = FastCDC(avg_size, min_size=min_size, max_size=max_size)
        self.min_size = min_size
        self.max_size = max_size
        check_sizes(avg_size, min_size, max_size)
        self.buffer_size = max(BUFFER_SIZE, max_size + max_size // 4)
        self._buffer: bytearray | None = None
        self._permuted: bytearray | None = None

    def cut(self, data: bytes | bytearray | memoryview) -> list[tuple[int, int]]:
        """(offset, length) of each chunk of a whole buffer."""
        if len(data) <= self.min_size:
            return [(0, len(data))] if len(data) else []
        source = bytes(data) if isinstance(data, memoryview) else data
        permuted = source.translate(self._table)
        del source
        return [(c.offset, c.length) for c in self._cdc.cut_buf(permuted)]

    def chunks(self, stream: BinaryIO, size_hint: int | None = None) -> Iterator[memoryview]:
        """Chunks of a stream, each a view into a reused buffer: use it before asking for the next.

        A stream whose `size_hint` fits in one buffer is read whole; a larger one is read through
        one buffer, allocated once per chunker, so memory stays bounded whatever the file size.
        """
        del size_hint  # every stream goes through the one buffer; small ones in one read
        yield from self._stream(stream, b"")

    def _stream(self, stream: BinaryIO, head: bytes) -> Iterator[memoryview]:
        if self._buffer is None or self._permuted is None:
            self._buffer = bytearray(self.buffer_size)
            self._permuted = bytearray(self.buffer_size)
        buf, permuted, table = self._buffer, self._permuted, self._table
        view, pview = memoryview(buf), memoryview(permuted)
        filled = 0
        eof = False
        pending = memoryview(head)
        while True:
            while not eof and filled < len(buf):
                end = min(filled + PIECE_SIZE, len(buf))
                if pending:
                    n = min(len(pending), end - filled)
                    view[filled : filled + n] = pending[:n]
                    pending = pending[n:]
                else:
                    n = stream.readinto(view[filled:end])  # type: ignore[attr-defined]
                    if not n:
                        eof = True
                        break
                permuted[filled : filled + n] = buf[filled : filled + n].translate(table)
                filled += n
            if filled == 0:
                return
            if filled <= self.min_size:
                cuts = [(0, filled)]
            else:
                cuts = [(c.offset, c.length) for c in self._cdc.cut_buf(pview[:filled])]
            if not eof:
                cuts = cuts[:-1]  # the last cut ends at the buffer's end, not at a content boundary
            end = 0
            for offset, length in cuts:
                yield view[offset : offset + length]
                end = offset + length
            if eof:
                return
            remainder = filled - end
            view[:remainder] = view[end:filled]
            pview[:remainder] = pview[end:filled]
            filled = remainder
