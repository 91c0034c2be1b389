"""The on-disk form of a sync state: a small header, then two columns of 64-bit digests.

Layout (little-endian)::

    fixed header   magic "DRIPSYNC", format version, digest version, flags, generation,
                   count, committed_at (epoch s), body CRC-32, writer id (16 bytes),
                   lengths of the four names
    names          account id, resource, state key, key spec (UTF-8)
    header CRC-32  over everything above
    keys           count x u64, unique; keys[i] is the key of contents[i]
    contents       count x u64, sorted ascending

16 bytes per key plus a header of about 100 bytes. Columns (not interleaved pairs) let a reader
load them straight into ``array('Q')`` and binary-search the contents with ``bisect`` without a
Python object per key (``columns.py`` says why the order is by content). The key spec (e.g.
``[["email"],["id"]]``) is the one the keys were taken with: keys taken another way would never
match. Both CRCs make a torn or foreign file an error, never a silently empty or wrong state.
"""

from __future__ import annotations

import struct
import sys
import zlib
from array import array
from dataclasses import dataclass
from typing import BinaryIO, Protocol

MAGIC = b"DRIPSYNC"
FORMAT_VERSION = 2
"""2: columns ordered by content, and the key spec in the header."""
_FIXED = struct.Struct("<8sHHIQQdI16sHHHH")
_CRC = struct.Struct("<I")
_WORD = 8
_BIG_ENDIAN = sys.byteorder == "big"


class StateFormatError(ValueError):
    """The bytes are not a complete sync state of a version this code reads."""


@dataclass(frozen=True)
class StateHeader:
    account_id: str
    resource: str
    state_key: str
    generation: int
    """Commits so far; a committer expects it unchanged since it opened the state."""
    count: int
    committed_at: float
    writer_id: bytes
    """Random per commit: lets a committer read back that the object on storage is its own."""
    digest_version: int
    body_crc: int = 0
    key_spec: str = ""
    """The key fields the keys were taken from (``KeySpec.fingerprint``)."""

    def encode(self) -> bytes:
        names = [s.encode("utf-8", "surrogatepass") for s in self._names()]
        fixed = _FIXED.pack(
            MAGIC,
            FORMAT_VERSION,
            self.digest_version,
            0,
            self.generation,
            self.count,
            self.committed_at,
            self.body_crc,
            self.writer_id,
            *(len(n) for n in names),
        )
        head = fixed + b"".join(names)
        return head + _CRC.pack(zlib.crc32(head))

    def _names(self) -> tuple[str, str, str, str]:
        return self.account_id, self.resource, self.state_key, self.key_spec

    @property
    def body_size(self) -> int:
        return 2 * _WORD * self.count


class _Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


def _read_exact(f: _Readable, n: int, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise StateFormatError(f"truncated sync state: expected {n} bytes of {what}")
    return data


def read_header(f: _Readable) -> StateHeader:
    """Read and check the header; ``f`` is left at the start of the keys."""
    fixed = _read_exact(f, _FIXED.size, "header")
    (magic, fmt, dver, _flags, gen, count, at, body_crc, writer, *lengths) = _FIXED.unpack(fixed)
    if magic != MAGIC:
        raise StateFormatError("not a Drip sync state (bad magic)")
    if fmt != FORMAT_VERSION:
        raise StateFormatError(
            f"sync state format {fmt} is not supported (this code reads {FORMAT_VERSION})"
        )
    names = _read_exact(f, sum(lengths), "header names")
    (crc,) = _CRC.unpack(_read_exact(f, _CRC.size, "header checksum"))
    if zlib.crc32(fixed + names) != crc:
        raise StateFormatError("sync state header checksum mismatch")
    texts = []
    offset = 0
    for length in lengths:
        texts.append(names[offset : offset + length].decode("utf-8", "surrogatepass"))
        offset += length
    account, resource, key, key_spec = texts
    return StateHeader(account, resource, key, gen, count, at, writer, dver, body_crc, key_spec)


def _read_column(f: BinaryIO, count: int) -> array:
    col = array("Q", bytes(_WORD)) * count if count else array("Q")
    view = memoryview(col).cast("B")
    got = 0
    while got < len(view):
        n = f.readinto(view[got:])
        if not n:
            raise StateFormatError("truncated sync state body")
        got += n
    if _BIG_ENDIAN:
        col.byteswap()
    return col


def read_state(f: BinaryIO) -> tuple[StateHeader, array, array]:
    """Header plus the key and content columns, checked against the body CRC."""
    header = read_header(f)
    keys = _read_column(f, header.count)
    contents = _read_column(f, header.count)
    if _body_crc(keys, contents) != header.body_crc:
        raise StateFormatError("sync state body checksum mismatch (torn or corrupted write)")
    if f.read(1):
        raise StateFormatError("sync state has trailing bytes")
    return header, keys, contents


def _le(col: array) -> array:
    if not _BIG_ENDIAN:
        return col
    swapped = array("Q", col)
    swapped.byteswap()
    return swapped


def _body_crc(keys: array, contents: array) -> int:
    return zlib.crc32(_le(contents), zlib.crc32(_le(keys)))


def encode_parts(header: StateHeader, keys: array, contents: array) -> list[bytes | memoryview]:
    """The file as buffers to write in order (no copy of the columns on little-endian hosts).

    ``header.body_crc`` and ``count`` are filled in here from the columns.
    """
    if len(keys) != len(contents):
        raise ValueError("keys and contents differ in length")
    full = StateHeader(
        header.account_id,
        header.resource,
        header.state_key,
        header.generation,
        len(keys),
        header.committed_at,
        header.writer_id,
        header.digest_version,
        _body_crc(keys, contents),
        header.key_spec,
    )
    return [full.encode(), memoryview(_le(keys)).cast("B"), memoryview(_le(contents)).cast("B")]
