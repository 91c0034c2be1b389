"""Readers of each file format, one record at a time, and where in its file each one sits.

A reader turns a byte stream into records (dicts, ``CsvRow``, ``JsonLine``) or ``Unreadable``
rejects, never stopping a pass for one bad record: bytes that are not valid in the file's
encoding, a line that is not JSON, a row with too many cells, nesting too deep to read. What
cannot be read on (a truncated gzip, a corrupt Parquet footer) is raised for ``FileSource`` to
name the file. ``Where`` says where the record a reader yielded last sits, for rejects.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from airflow_provider_drip.records.jsonarray import iter_json_array


@dataclass(frozen=True)
class Unreadable:
    """A source record that could not be parsed; rejected with ``rule``."""

    raw: Any
    rule: str
    message: str


class Where:
    """Where the record a file source yielded last sits: its file and line (or element, row).

    Readers update it as they go (an int per line); it is read only for rejects and errors.
    """

    __slots__ = ("n", "path", "reader", "unit")

    def __init__(self) -> None:
        self.path = ""
        self.unit = "line"
        self.n = 0
        self.reader: Any = None
        """A ``csv.reader``, whose ``line_num`` is the physical line (cells may span lines)."""

    def start(self, path: str, unit: str) -> None:
        self.path, self.unit, self.n, self.reader = path, unit, 0, None

    def describe(self) -> str:
        n = self.reader.line_num if self.reader is not None else self.n
        return f"{self.path}, {self.unit} {n}" if n else self.path

    def describe_at(self) -> str:
        """How far a reader got in its file (for a file-level error)."""
        n = self.reader.line_num if self.reader is not None else self.n
        return f"{self.unit} {n}" if n else "its start"


_TOO_DEEP = "nested too deeply to read (a JSON value this deep is not a Drip record)"

_MARKED = [0]
"""How many undecodable byte runs the ``drip-mark`` error handler has seen (process-wide)."""
_SURROGATE = re.compile("[\ud800-\udfff]")


def _mark_bad_bytes(exc: UnicodeError) -> tuple[str, int]:
    """Decode error handler: keep the bad bytes as lone surrogates (like ``surrogateescape``,
    for any codec) and count them, so a reader finds the record that holds them and rejects it
    instead of a mid-file ``UnicodeDecodeError`` ending the whole pass."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    _MARKED[0] += 1
    bad = exc.object[exc.start : exc.end]
    return "".join(chr(0xDC00 + b) for b in bad), exc.end


codecs.register_error("drip-mark", _mark_bad_bytes)


def _encoding_reject(raw: Any, encoding: str, detail: str = "") -> Unreadable:
    extra = f": {detail}" if detail else ""
    return Unreadable(raw, "encoding", f"bytes that are not valid {encoding}{extra}")


def _has_surrogates(value: Any) -> bool:
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, Mapping):
        return any(_has_surrogates(k) or _has_surrogates(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(map(_has_surrogates, value))
    return False


def _escaped(text: str) -> str:
    """Text with lone surrogates (undecodable bytes) shown as ``\\udcXX`` escapes, encodable."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


UNITS = {"jsonl": "line", "json": "array element", "csv": "CSV line", "parquet": "row"}


class KnownLine:
    """What ``_read_jsonl`` yields for a line whose bytes ``known_line`` recognised (changed
    mode: Drip already accepted exactly these bytes), without decoding or checking it."""

    __slots__ = ()


KNOWN_LINE = KnownLine()


class JsonLine:
    """A JSON line the pipeline's ``accept_line`` passed: its own bytes are the payload."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def decode(self) -> Any:
        return msgspec.json.decode(self.data)


def _read_jsonl(
    stream: Any,
    encoding: str,
    accept_line: Callable[[bytes], bool] | None = None,
    where: Where | None = None,
    known_line: Callable[[bytes], bool] | None = None,
) -> Iterator[Any]:
    """Records of a file of JSON lines. With ``accept_line``, a line whose own bytes may be
    sent comes as a ``JsonLine``; with ``known_line`` too, a line whose bytes (less trailing
    whitespace, as a ``JsonLine`` would carry them) it recognises comes as ``KNOWN_LINE``."""
    where = where or Where()
    decode = msgspec.json.decode
    utf8 = encoding.lower().replace("_", "-") in ("utf-8", "utf8", "utf-8-sig")
    lines: Iterable[Any] = (
        stream if utf8 else io.TextIOWrapper(stream, encoding=encoding, errors="drip-mark")
    )
    if not utf8:
        accept_line = None  # lines are text, not the UTF-8 bytes a request body carries
    if accept_line is None:
        known_line = None  # only a line that may be sent as it is can be known by its bytes
    text_lines = not utf8  # bytes lines carry no marked bytes: msgspec refuses bad UTF-8 itself
    marked = _MARKED[0]
    for n, line in enumerate(lines, 1):
        where.n = n
        if known_line is not None and known_line(line.rstrip()):
            yield KNOWN_LINE
            continue
        if accept_line is not None and accept_line(line):
            yield JsonLine(line.rstrip())
            continue
        if text_lines and marked != _MARKED[0] and _SURROGATE.search(line):
            yield _encoding_reject(_escaped(line.rstrip("\r\n")), encoding)
            continue
        try:
            yield decode(line)
        except msgspec.DecodeError as exc:
            error = exc
            if n == 1 and utf8 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
                try:
                    yield decode(line)
                    continue
                except msgspec.DecodeError as exc2:
                    error = exc2
                except UnicodeError as exc2:
                    yield _encoding_reject(_line_text(line), encoding, str(exc2))
                    continue
            text = _line_text(line)
            if text.strip():
                yield Unreadable(text, "json_syntax", f"not valid JSON: {error}")
        except UnicodeError as exc:  # bytes that are not UTF-8 inside a string (msgspec)
            yield _encoding_reject(_line_text(line), encoding, str(exc))
        except RecursionError:
            yield Unreadable(_line_text(line)[:1000], "max_depth", _TOO_DEEP)


def _line_text(line: bytes | str) -> str:
    """A line as text for the rejects file: undecodable bytes as ``\\xNN`` escapes."""
    text = line.decode("utf-8", "backslashreplace") if isinstance(line, bytes) else line
    return _escaped(text.rstrip("\r\n"))


def _read_json_array(stream: Any, encoding: str, path: str, where: Where) -> Iterator[Any]:
    """Elements of a JSON array file; an element holding undecodable bytes is a reject."""
    marked = _MARKED[0]
    for n, value in enumerate(iter_json_array(stream, encoding, name=path, errors="drip-mark"), 1):
        where.n = n
        if marked != _MARKED[0] and _has_surrogates(value):
            yield _encoding_reject(_escaped(repr(value)), encoding)
            continue
        yield value


class CsvRow:
    """One CSV row as read: its file's ``header`` (shared by every row) and the cell ``values``.

    Cheaper than a dict per row; the pipeline maps and coerces it with a plan built once per
    header. ``as_dict()`` is the row as ``csv.DictReader`` gives it (missing cells are None).
    """

    __slots__ = ("header", "values")

    def __init__(self, header: tuple[str, ...], values: list[str]) -> None:
        self.header = header
        self.values = values

    def as_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = dict(zip(self.header, self.values, strict=False))
        for name in self.header[len(self.values) :]:
            row[name] = None
        return row

    def __repr__(self) -> str:
        return f"CsvRow({self.as_dict()!r})"


CSV_FIELD_LIMIT = 64 * 1024 * 1024
"""Largest CSV cell read (Python's default is 128 KiB). A cell can hold up to a request body; a
bigger one fails the file with ``SourceFileError`` naming its line (rule ``csv_field_size``)."""


def _read_csv(
    stream: Any, encoding: str, delimiter: str, where: Where | None = None
) -> Iterator[Any]:
    where = where or Where()
    if encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
        encoding = "utf-8-sig"
    if csv.field_size_limit() < CSV_FIELD_LIMIT:
        csv.field_size_limit(CSV_FIELD_LIMIT)
    text = io.TextIOWrapper(stream, encoding=encoding, newline="", errors="drip-mark")
    reader = csv.reader(text, delimiter=delimiter)
    where.reader = reader
    marked = _MARKED[0]
    header = next(reader, None)  # like csv.DictReader: the first row, even a blank one
    if header is None:
        return
    fields = tuple(header)
    width = len(fields)
    for row in reader:
        if marked != _MARKED[0] and _SURROGATE.search("\x1f".join(row)):
            record: dict[str, Any] = dict(zip(fields, map(_escaped, row), strict=False))
            yield _encoding_reject(record, encoding.removesuffix("-sig"))
            continue
        if len(row) <= width:
            if row:  # DictReader skips blank lines
                yield CsvRow(fields, row)
            continue
        record = dict(zip(fields, row, strict=False))
        record["_extra_columns"] = row[width:]
        yield Unreadable(
            record,
            "csv_columns",
            f"row has {len(row) - width} more value(s) than the header has columns",
        )


def _read_parquet(stream: Any, where: Where | None = None) -> Iterator[Any]:
    import pyarrow.parquet as pq  # optional dependency: only needed for parquet sources

    where = where or Where()
    pf = pq.ParquetFile(stream)
    n = 0
    for batch in pf.iter_batches(batch_size=4096):
        try:
            rows: Iterable[Any] = batch.to_pylist()
        except UnicodeDecodeError:  # a string cell that is not UTF-8: find it row by row
            rows = _rows_one_by_one(batch)
        for row in rows:
            n += 1
            where.n = n
            if type(row) is Unreadable:
                yield row
                continue
            # Parquet has a column for every field; a null cell means "not given".
            yield {k: v for k, v in row.items() if v is not None}


def _rows_one_by_one(batch: Any) -> Iterator[Any]:
    """The rows of a Parquet batch; one whose string cells are not UTF-8 becomes a reject."""
    for i in range(batch.num_rows):
        one = batch.slice(i, 1)
        try:
            yield one.to_pylist()[0]
        except UnicodeDecodeError as exc:
            row: dict[str, Any] = {}
            for name, column in zip(one.schema.names, one.columns, strict=True):
                try:
                    row[name] = column.to_pylist()[0]
                except UnicodeDecodeError:
                    raw = column.cast("binary").to_pylist()[0]
                    row[name] = raw.decode("utf-8", "backslashreplace")
            yield _encoding_reject(row, "utf-8", str(exc))
