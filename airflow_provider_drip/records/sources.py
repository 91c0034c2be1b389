"""Where records come from: in-memory iterables or files (json, jsonl, csv, parquet; gzip).

A source is re-iterable: every pass (preflight, dedupe pre-pass, chunking, resume) reads it again
from the start in the same order, streaming. Files are opened through fsspec, so any
``ObjectStoragePath`` or URL Airflow can open works. A one-shot iterator (a generator) is spooled
once to a local temporary file (pickled records) so later passes can re-read it.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import io
import os
import pickle
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import fsspec
import msgspec

from airflow_provider_drip.records.jsonarray import iter_json_array

FORMATS = ("json", "jsonl", "csv", "parquet")
_EXTENSIONS = {
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_GLOB_CHARS = frozenset("*?[")
_INFO_KEYS = (
    "mtime",
    "LastModified",
    "last_modified",
    "updated",
    "ETag",
    "etag",
    "md5",
    "md5Hash",
    "crc32c",
    "generation",
    "VersionId",
    "version_id",
    "checksum",
)
"""fsspec ``info()`` keys that change when a file's content changes (local, S3, GCS, Azure...)."""


@dataclass(frozen=True)
class Unreadable:
    """A source record that could not be parsed; rejected with ``rule``."""

    raw: Any
    rule: str
    message: str


def format_for(path: str, source_format: str | None) -> tuple[str, bool]:
    """(format, gzipped) of ``path``: ``.gz`` is stripped first, then the extension decides."""
    lower = path.lower()
    gz = lower.endswith(".gz")
    if gz:
        lower = lower[:-3]
    if source_format is not None:
        if source_format not in FORMATS:
            raise ValueError(f"source_format must be one of {FORMATS}, got {source_format!r}")
        return source_format, gz
    ext = os.path.splitext(lower)[1]
    try:
        return _EXTENSIONS[ext], gz
    except KeyError:
        raise ValueError(
            f"Cannot tell the format of {path!r} from its extension; set source_format to one "
            f"of {FORMATS}"
        ) from None


def _fs_and_path(source: Any) -> tuple[fsspec.AbstractFileSystem, str]:
    fs = getattr(source, "fs", None)
    if fs is not None and not isinstance(source, str) and hasattr(source, "path"):
        return fs, source.path  # ObjectStoragePath / UPath: keeps its connection's credentials
    fs, path = fsspec.core.url_to_fs(os.fspath(source))
    return fs, path


def _visible(path: str) -> bool:
    """Skip hidden and marker files in directories (``.crc``, ``_SUCCESS`` ...)."""
    base = path.rstrip("/").rsplit("/", 1)[-1]
    return not base.startswith((".", "_"))


class FileSource:
    """One file, a directory (every visible file below it) or a glob, in sorted path order."""

    def __init__(
        self,
        source: Any,
        source_format: str | None,
        encoding: str,
        csv_delimiter: str,
    ) -> None:
        self.fs, self.root = _fs_and_path(source)
        self.display = str(source)
        self.encoding = encoding
        self.csv_delimiter = csv_delimiter
        self.source_format = source_format
        self.files = self._resolve()
        self.formats = [format_for(p, source_format) for p in self.files]

    def _resolve(self) -> list[str]:
        fs, root = self.fs, self.root
        if _GLOB_CHARS & set(root):
            files = [p for p in fs.glob(root) if fs.isfile(p)]
        elif fs.isdir(root):
            files = [p for p in fs.find(root) if _visible(p[len(root) :])]
        elif fs.exists(root):
            files = [root]
        else:
            raise FileNotFoundError(f"Drip record source not found: {self.display}")
        if not files:
            raise FileNotFoundError(f"No files match the Drip record source {self.display}")
        return sorted(files)

    @property
    def strings_only(self) -> bool:
        """True when every file is CSV (values arrive as strings and need coercion)."""
        return all(fmt == "csv" for fmt, _ in self.formats)

    def update_fingerprint(self, h: Any) -> None:
        """Identity of the files without reading them: path, size and change markers."""
        h.update(f"protocol={self.fs.protocol!r}\n".encode())
        for path in self.files:
            info = self.fs.info(path)
            parts = [path, str(info.get("size"))]
            parts += [f"{k}={info[k]}" for k in _INFO_KEYS if info.get(k) is not None]
            h.update(("\x1f".join(parts) + "\n").encode())

    def __iter__(self) -> Iterator[Any]:
        return self.records()

    def records(self, accept_line: Callable[[bytes], bool] | None = None) -> Iterator[Any]:
        """Every record in order; JSON lines that ``accept_line`` passes come as ``JsonLine``."""
        for path, (fmt, gz) in zip(self.files, self.formats, strict=True):
            with self.fs.open(path, "rb") as raw, _maybe_gunzip(raw, gz) as stream:
                yield from self._read(stream, fmt, path, accept_line)

    def _read(
        self, stream: Any, fmt: str, path: str, accept_line: Callable[[bytes], bool] | None
    ) -> Iterator[Any]:
        if fmt == "jsonl":
            return _read_jsonl(stream, self.encoding, accept_line)
        if fmt == "json":
            return iter_json_array(stream, self.encoding, name=path)
        if fmt == "csv":
            delimiter = self.csv_delimiter
            if path.lower().removesuffix(".gz").endswith(".tsv") and delimiter == ",":
                delimiter = "\t"
            return _read_csv(stream, self.encoding, delimiter)
        return _read_parquet(stream)


def _maybe_gunzip(raw: Any, gz: bool) -> Any:
    return gzip.open(raw, "rb") if gz else contextlib.nullcontext(raw)


class JsonLine:
    """A JSON line the pipeline's ``accept_line`` passed: its own bytes are the payload."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def decode(self) -> Any:
        return msgspec.json.decode(self.data)


def _read_jsonl(
    stream: Any, encoding: str, accept_line: Callable[[bytes], bool] | None = None
) -> Iterator[Any]:
    decode = msgspec.json.decode
    utf8 = encoding.lower().replace("_", "-") in ("utf-8", "utf8", "utf-8-sig")
    lines: Iterable[Any] = stream if utf8 else io.TextIOWrapper(stream, encoding=encoding)
    if not utf8:
        accept_line = None  # lines are text, not the UTF-8 bytes a request body carries
    first = True
    for line in lines:
        if accept_line is not None and accept_line(line):
            yield JsonLine(line.rstrip())
            first = False
            continue
        try:
            yield decode(line)
        except msgspec.DecodeError as exc:
            error = exc
            if first and utf8 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
                try:
                    yield decode(line)
                    continue
                except msgspec.DecodeError as exc2:
                    error = exc2
            text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
            if text.strip():
                yield Unreadable(text.rstrip("\r\n"), "json_syntax", f"not valid JSON: {error}")
        finally:
            first = False


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


def _read_csv(stream: Any, encoding: str, delimiter: str) -> Iterator[Any]:
    if encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
        encoding = "utf-8-sig"
    text = io.TextIOWrapper(stream, encoding=encoding, newline="")
    reader = csv.reader(text, delimiter=delimiter)
    header = next(reader, None)  # like csv.DictReader: the first row, even a blank one
    if header is None:
        return
    fields = tuple(header)
    width = len(fields)
    for row in reader:
        if len(row) <= width:
            if row:  # DictReader skips blank lines
                yield CsvRow(fields, row)
            continue
        record: dict[str, Any] = dict(zip(fields, row, strict=False))
        record["_extra_columns"] = row[width:]
        yield Unreadable(
            record,
            "csv_columns",
            f"row has {len(row) - width} more value(s) than the header has columns",
        )


def _read_parquet(stream: Any) -> Iterator[Any]:
    import pyarrow.parquet as pq  # optional dependency: only needed for parquet sources

    pf = pq.ParquetFile(stream)
    for batch in pf.iter_batches(batch_size=4096):
        for row in batch.to_pylist():
            # Parquet has a column for every field; a null cell means "not given".
            yield {k: v for k, v in row.items() if v is not None}


class MemorySource:
    """In-memory records: a list, an XCom sequence, any re-iterable, or a one-shot iterator."""

    def __init__(self, records: Iterable[Mapping[str, Any]]) -> None:
        if isinstance(records, (str, bytes, Mapping)):
            raise TypeError("records must be an iterable of mappings (e.g. a list of dicts)")
        self._records: Iterable[Any] | None = records
        self._spool: Any = None
        self._spooled = False
        self.total_hint: int | None = None
        with contextlib.suppress(TypeError):
            self.total_hint = len(records)  # type: ignore[arg-type]
        self.one_shot = iter(records) is records

    strings_only = False

    def records(self, accept_line: Callable[[bytes], bool] | None = None) -> Iterator[Any]:
        """Every record in order (``accept_line`` is for files of JSON lines; unused here)."""
        return iter(self)

    def __iter__(self) -> Iterator[Any]:
        if not self.one_shot:
            return iter(self._records)  # type: ignore[arg-type]
        self.ensure_spooled()
        return self._read_spool()

    def ensure_spooled(self) -> None:
        """Drain a one-shot iterator into a temporary file once, so every pass can re-read it."""
        if not self.one_shot or self._spooled:
            return
        if self._records is None:
            raise RuntimeError("an earlier pass over the record generator failed part-way")
        records, self._records = self._records, None
        spool = tempfile.TemporaryFile(prefix="drip-records-")  # noqa: SIM115 (kept open)
        dump = pickle.Pickler(spool, protocol=pickle.HIGHEST_PROTOCOL)
        count = 0
        for rec in records:
            dump.dump(rec)
            dump.clear_memo()
            count += 1
        self._spool, self._spooled, self.total_hint = spool, True, count

    def _read_spool(self) -> Iterator[Any]:
        self._spool.seek(0)
        load = pickle.Unpickler(self._spool).load
        for _ in range(self.total_hint or 0):
            yield load()

    def update_fingerprint(self, h: Any) -> None:
        """Hash of the records' canonical JSON (sorted keys), streamed."""
        self.ensure_spooled()
        canonical = msgspec.json.Encoder(
            order="sorted", decimal_format="number", enc_hook=_fingerprint_hook
        ).encode
        plain = msgspec.json.Encoder(decimal_format="number", enc_hook=_fingerprint_hook).encode
        n = 0
        for rec in self:
            try:
                data = canonical(rec)
            except TypeError:  # non-str keys cannot be sorted
                data = plain(rec)
            h.update(len(data).to_bytes(8, "big"))
            h.update(data)
            n += 1
        h.update(f"count={n}".encode())


def _fingerprint_hook(obj: Any) -> Any:
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    if isinstance(obj, Mapping):
        return dict(obj)
    return f"{type(obj).__qualname__}:{obj!r}"


def new_hash() -> Any:
    return hashlib.sha256()
