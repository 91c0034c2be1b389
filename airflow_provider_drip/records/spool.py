"""A local temporary file holding the chunks of one pass, so the next pass can replay them.

``RecordPipeline.check()`` reads, maps, validates and serialises everything; with
``on_invalid="fail"`` the sync loop then asks for the same chunks again. Keeping the serialised
chunks here (constant memory, disk ~ the payload bytes) makes that second pass a sequential read.

Framing, per chunk: one header line (compact JSON: ``[start, end, count, block_bytes, counts,
rejected_by_rule]``) followed by the ``count`` payloads joined by ``\\n`` (``block_bytes`` long).
Compact JSON never contains a raw newline, so the block splits back into the exact payloads.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import Any, NamedTuple

import msgspec

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(list).decode


class Frame(NamedTuple):
    """One spooled chunk and the pass's counters as they stood when it was handed out."""

    start: int
    end: int
    count: int
    block_bytes: int
    counts: tuple[int, ...]
    """(records_read, valid, rejected, filtered, deduplicated) when the chunk closed."""
    rejected_by_rule: dict[str, int]
    payloads: list[bytes] | None
    """None for a frame skipped by ``frames(start)`` (its bytes are never read)."""


class ChunkSpool:
    """Write frames once, then read them back once; ``key`` says which pass settings made them."""

    def __init__(self, key: Any) -> None:
        self.key = key
        self._file: Any = tempfile.TemporaryFile(prefix="drip-chunks-")  # noqa: SIM115
        self.final: tuple[tuple[int, ...], dict[str, int]] | None = None
        """Counters at the end of the pass (set by ``finish``); None while incomplete."""

    @property
    def closed(self) -> bool:
        return self._file is None

    def write(
        self,
        start: int,
        end: int,
        counts: tuple[int, ...],
        rejected_by_rule: dict[str, int],
        payloads: list[bytes],
    ) -> None:
        block = b"\n".join(payloads)
        header = _encode([start, end, len(payloads), len(block), counts, rejected_by_rule])
        self._file.write(header + b"\n")
        self._file.write(block)

    def finish(self, counts: tuple[int, ...], rejected_by_rule: dict[str, int]) -> None:
        self._file.flush()
        self.final = (tuple(counts), dict(rejected_by_rule))

    def frames(self, start: int = 0) -> Iterator[Frame]:
        """Frames in order; those whose chunk starts before ``start`` come without payloads."""
        f = self._file
        f.seek(0)
        readline, read, seek = f.readline, f.read, f.seek
        while True:
            line = readline()
            if not line:
                return
            c_start, c_end, count, size, counts, by_rule = _decode(line)
            if c_start < start:
                seek(size, 1)
                payloads = None
            else:
                block = read(size)
                if len(block) != size:
                    raise OSError("chunk spool is truncated")
                payloads = block.split(b"\n")
                if len(payloads) != count:
                    raise OSError("chunk spool is corrupt")
            yield Frame(c_start, c_end, count, size, tuple(counts), by_rule, payloads)

    def close(self) -> None:
        """Close and so delete the file (it has no name on POSIX; deleted on close elsewhere)."""
        f, self._file = self._file, None
        if f is not None:
            f.close()
