"""Request bodies under ``Content-Encoding``: what the emulator decodes and what it refuses.

Drip documents no request encoding, but drip-python 0.3.1 (Drip's Python client) gzips every POST
body and Drip answers it, so ``gzip`` is accepted (and ``x-gzip``, which RFC 9110 says recipients
should treat as ``gzip``). ``identity`` is no encoding at all. Anything else (``deflate``, ``br``,
``zstd``, stacked codings) has no evidence of Drip accepting it, so it is refused with 415.
Decompression stops at ``limit`` bytes, so a small gzip bomb cannot exhaust the emulator (413).
"""

from __future__ import annotations

import zlib

GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 256 * 1024
SUPPORTED = ("gzip", "x-gzip", "identity")


class BodyEncodingError(Exception):
    """A body that cannot be decoded: ``status`` (400, 413 or 415) and a Drip-style error."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def codings(header: str | None) -> list[str]:
    """The codings applied to a body, in order, without ``identity`` (a no-op)."""
    names = [c.strip().lower() for c in (header or "").split(",")]
    return [c for c in names if c and c != "identity"]


def decode_body(raw: bytes, content_encoding: str | None, limit: int) -> bytes:
    """``raw`` with its ``Content-Encoding`` undone, at most ``limit`` bytes.

    :raises BodyEncodingError: 415 for an unsupported coding, 400 for a corrupt gzip stream,
        413 when the decoded body would exceed ``limit``.
    """
    applied = codings(content_encoding)
    if not applied:
        return raw
    if len(applied) > 1 or applied[0] not in ("gzip", "x-gzip"):
        raise BodyEncodingError(
            415,
            "format_error",
            f"Content-Encoding {content_encoding!r} is not supported; send gzip or no encoding",
        )
    return gunzip(raw, limit)


def gunzip(data: bytes, limit: int) -> bytes:
    """Decompress every gzip member of ``data`` (RFC 1952 allows several), refusing output
    beyond ``limit`` bytes and anything that is not a complete gzip stream."""
    out = bytearray()
    rest = data
    if not rest:
        raise BodyEncodingError(400, "format_error", "Body is not valid gzip: empty body")
    while rest:
        if not rest.startswith(GZIP_MAGIC):
            raise BodyEncodingError(400, "format_error", "Body is not valid gzip: bad header")
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        pending = rest
        try:
            while pending and not inflater.eof:
                out += inflater.decompress(pending, limit + 1 - len(out))
                _check_size(out, limit)
                pending = inflater.unconsumed_tail
            while not inflater.eof and len(out) <= limit:
                before = len(out)
                out += inflater.decompress(b"", min(_CHUNK, limit + 1 - len(out)))
                _check_size(out, limit)
                if len(out) == before:
                    break
        except zlib.error as err:
            raise BodyEncodingError(400, "format_error", f"Body is not valid gzip: {err}") from None
        if not inflater.eof:
            raise BodyEncodingError(400, "format_error", "Body is not valid gzip: truncated")
        rest = inflater.unused_data
    return bytes(out)


def _check_size(out: bytearray, limit: int) -> None:
    if len(out) > limit:
        raise BodyEncodingError(
            413, "length_error", f"Decompressed body exceeds the {limit}-byte limit"
        )
