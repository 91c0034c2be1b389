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
import os
import pickle
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import fsspec
import msgspec

from airflow_provider_drip.records.errors import SourceFileError
from airflow_provider_drip.records.jsonarray import JSONArrayError
from airflow_provider_drip.records.readers import (
    _TOO_DEEP,
    UNITS,
    Unreadable,
    Where,
    _read_csv,
    _read_json_array,
    _read_jsonl,
    _read_parquet,
)

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
GLOB_CHARS = frozenset("*?[")
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


def fs_and_path(source: Any) -> tuple[fsspec.AbstractFileSystem, str]:
    fs = getattr(source, "fs", None)
    if fs is not None and not isinstance(source, str) and hasattr(source, "path"):
        return fs, source.path  # ObjectStoragePath / UPath: keeps its connection's credentials
    fs, path = fsspec.core.url_to_fs(os.fspath(source))
    return fs, path


def visible_in_directory(path: str) -> bool:
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
        self.fs, self.root = fs_and_path(source)
        self.display = str(source)
        self.encoding = encoding
        self.csv_delimiter = csv_delimiter
        self.source_format = source_format
        self.kind = "file"
        """``file``, ``directory`` or ``glob``: how ``files`` were found."""
        self.files = self._resolve()
        self.formats = [format_for(p, source_format) for p in self.files]
        self.where = Where()

    def _resolve(self) -> list[str]:
        fs, root = self.fs, self.root
        if GLOB_CHARS & set(root):
            self.kind = "glob"
            files = [p for p in fs.glob(root) if fs.isfile(p)]
        elif fs.isdir(root):
            self.kind = "directory"
            files = [p for p in fs.find(root) if visible_in_directory(p[len(root) :])]
        elif fs.exists(root):
            self.kind = "file"
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

    def records(
        self,
        accept_line: Callable[[bytes], bool] | None = None,
        known_line: Callable[[bytes], bool] | None = None,
    ) -> Iterator[Any]:
        """Every record in order; JSON lines that ``accept_line`` passes come as ``JsonLine``,
        and those ``known_line`` recognises as ``KNOWN_LINE`` (see ``readers._read_jsonl``).

        A file that cannot be read on (truncated gzip, corrupt Parquet, bytes a non-UTF-8 codec
        cannot split into lines) raises ``SourceFileError`` naming the file and how far it got.
        """
        where = self.where
        for path, (fmt, gz) in zip(self.files, self.formats, strict=True):
            where.start(path, UNITS[fmt])
            try:
                with self.fs.open(path, "rb") as raw, _maybe_gunzip(raw, gz) as stream:
                    yield from self._read(stream, fmt, path, accept_line, known_line)
            except (JSONArrayError, SourceFileError, FileNotFoundError):
                raise
            except csv.Error as exc:
                rule = "csv_field_size" if "field limit" in str(exc) else "csv_syntax"
                raise SourceFileError(path, where.describe_at(), rule, str(exc)) from exc
            except RecursionError as exc:
                raise SourceFileError(path, where.describe_at(), "max_depth", _TOO_DEEP) from exc
            except (OSError, EOFError, zlib.error, UnicodeError, ValueError) as exc:
                rule = "encoding" if isinstance(exc, UnicodeError) else "unreadable_file"
                problem = f"{type(exc).__name__}: {exc}"
                raise SourceFileError(path, where.describe_at(), rule, problem) from exc

    def location(self) -> str:
        """Where the record yielded last sits: ``people.csv, CSV line 6``."""
        return self.where.describe()

    def _read(
        self,
        stream: Any,
        fmt: str,
        path: str,
        accept_line: Callable[[bytes], bool] | None,
        known_line: Callable[[bytes], bool] | None,
    ) -> Iterator[Any]:
        where = self.where
        if fmt == "jsonl":
            return _read_jsonl(stream, self.encoding, accept_line, where, known_line)
        if fmt == "json":
            return _read_json_array(stream, self.encoding, path, where)
        if fmt == "csv":
            delimiter = self.csv_delimiter
            if path.lower().removesuffix(".gz").endswith(".tsv") and delimiter == ",":
                delimiter = "\t"
            return _read_csv(stream, self.encoding, delimiter, where)
        return _read_parquet(stream, where)


def _maybe_gunzip(raw: Any, gz: bool) -> Any:
    return gzip.open(raw, "rb") if gz else contextlib.nullcontext(raw)


class MemorySource:
    """In-memory records: a list, an XCom sequence, any re-iterable, or a one-shot iterator."""

    def __init__(self, records: Iterable[Mapping[str, Any]]) -> None:
        # ``specs.SourceSpec`` has refused a str, bytes or single mapping already.
        self._records: Iterable[Any] | None = records
        self._spool: Any = None
        self._spooled = False
        self.total_hint: int | None = None
        with contextlib.suppress(TypeError):
            self.total_hint = len(records)  # type: ignore[arg-type]
        self.one_shot = iter(records) is records

    strings_only = False

    def location(self) -> str | None:
        """In-memory records have only their position."""
        return None

    def records(
        self,
        accept_line: Callable[[bytes], bool] | None = None,
        known_line: Callable[[bytes], bool] | None = None,
    ) -> Iterator[Any]:
        """Every record in order (both callables are for files of JSON lines; unused here)."""
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
        count = 0
        for rec in records:
            spool.write(_frame(rec))
            count += 1
        spool.flush()
        self._spool, self._spooled, self.total_hint = spool, True, count

    def _read_spool(self) -> Iterator[Any]:
        """The spooled records, one self-contained pickle per length-prefixed frame.

        One ``pickle.Unpickler`` over the whole file would keep every record it ever returned
        in its memo (a protocol 5 pickle memoizes each object, and the writer's
        ``clear_memo()`` never reaches the reader): 1M records grew to 624 MB. A fresh
        ``pickle.loads`` per frame keeps memory flat.
        """
        f = self._spool
        f.seek(0)
        read, loads = f.read, pickle.loads
        for _ in range(self.total_hint or 0):
            size = int.from_bytes(read(8), "big")
            data = read(size)
            if len(data) != size:
                raise OSError("the record spool is truncated")
            yield loads(data)

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
                data = _encode_or_mark(plain, rec, n)
            except (RecursionError, UnicodeEncodeError):
                data = _encode_or_mark(plain, rec, n)
            h.update(len(data).to_bytes(8, "big"))
            h.update(data)
            n += 1
        h.update(f"count={n}".encode())


def _frame(rec: Any) -> bytes:
    """One record as a length-prefixed pickle (protocol 5), readable on its own."""
    try:
        data = pickle.dumps(rec, protocol=pickle.HIGHEST_PROTOCOL)
    except RecursionError:  # the pipeline rejects it; keep its place in the order
        data = pickle.dumps(
            Unreadable("<record nested too deeply to keep>", "max_depth", _TOO_DEEP),
            protocol=pickle.HIGHEST_PROTOCOL,
        )
    return len(data).to_bytes(8, "big") + data


def _encode_or_mark(encode: Callable[[Any], bytes], rec: Any, position: int) -> bytes:
    """Bytes standing for a record JSON cannot carry (a lone surrogate, 100,000 levels deep):
    the pipeline rejects such a record; the fingerprint must not crash on it first."""
    try:
        return encode(rec)
    except (TypeError, RecursionError, UnicodeEncodeError) as exc:
        return f"<unencodable record {position}: {type(exc).__name__}>".encode()


def _fingerprint_hook(obj: Any) -> Any:
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    if isinstance(obj, Mapping):
        return dict(obj)
    return f"{type(obj).__qualname__}:{obj!r}"


def new_hash() -> Any:
    return hashlib.sha256()
