"""Incremental reader for a top-level JSON array, in constant memory.

``json.load`` would hold a whole file; this keeps a sliding text buffer and lets the C scanner
(``JSONDecoder.raw_decode``) parse one element at a time, reading more only when an element is cut
by the buffer's end.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

_WS = re.compile(r"[ \t\n\r]*")
_CHUNK = 1 << 16
_TOKEN_TAIL = 16


class JSONArrayError(ValueError):
    """The file is not a well-formed JSON array (a file-level error: no record can be trusted).

    The message names the file and the element; ``rule`` is ``json_array`` like a reject's.
    """

    rule = "json_array"

    def __str__(self) -> str:
        return f"{super().__str__()} [{self.rule}]"


def iter_json_array(
    stream: BinaryIO, encoding: str = "utf-8", name: str = "", errors: str = "strict"
) -> Iterator[Any]:
    """Yield the elements of the JSON array in ``stream`` one by one.

    ``errors`` is the codec error handler (``records/readers.py`` passes one that keeps bad
    bytes as lone surrogates, so the element holding them becomes a reject).
    """
    if encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
        encoding = "utf-8-sig"  # tolerate a byte order mark
    decoder = codecs.getincrementaldecoder(encoding)(errors)
    raw_decode = json.JSONDecoder().raw_decode
    skip_ws = _WS.match
    buf = ""
    pos = 0
    eof = False
    where = f" in {name}" if name else ""

    def fill() -> None:
        nonlocal buf, pos, eof
        want = max(_CHUNK, len(buf) - pos)  # grow geometrically for large elements
        data = stream.read(want)
        if not data:
            eof = True
            buf = buf[pos:] + decoder.decode(b"", final=True)
        else:
            buf = buf[pos:] + decoder.decode(data)
        pos = 0

    def next_char() -> str:
        """Skip whitespace; return the next character ('' at end of input)."""
        nonlocal pos
        while True:
            pos = skip_ws(buf, pos).end()
            if pos < len(buf):
                return buf[pos]
            if eof:
                return ""
            fill()

    if next_char() != "[":
        raise JSONArrayError(
            f"expected a JSON array of objects{where} "
            "(for one object per line use source_format='jsonl')"
        )
    pos += 1
    index = 0
    if next_char() == "]":
        return
    while True:
        if next_char() == "":
            raise JSONArrayError(f"unterminated JSON array{where} after element {index}")
        while True:
            try:
                value, end = raw_decode(buf, pos)
            except json.JSONDecodeError as exc:
                # Cut by the buffer's end: the error sits on the last (partial) token, whose
                # start is at most a few characters back ("nul", "-", "1e"), or in a string.
                cut = exc.pos >= len(buf) - _TOKEN_TAIL or exc.msg.startswith("Unterminated")
                if cut and not eof:
                    fill()
                    continue
                raise JSONArrayError(f"malformed JSON{where} in element {index}: {exc}") from None
            if end >= len(buf) and not eof:  # a bare number may continue in the next read
                fill()
                continue
            break
        pos = end
        yield value
        index += 1
        c = next_char()
        if c == ",":
            pos += 1
            continue
        if c == "]":
            pos += 1
            if next_char() == "":
                return
            raise JSONArrayError(f"unexpected data after the JSON array{where}")
        if c == "":
            raise JSONArrayError(f"unterminated JSON array{where} after element {index - 1}")
        raise JSONArrayError(f"expected ',' or ']' after element {index - 1}{where}")
