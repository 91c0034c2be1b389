"""The pipeline's parameters as typed groups, each checked once, where it is built.

The operator builds them from its arguments (after templating), the pipeline compiles them;
neither repeats the other's checks. A spec's error names the parameter and what it accepts.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_drip.resources import MAX_BATCH_SIZE

DEFAULT_MAX_BATCH_BYTES = 5 * 1024 * 1024
"""Cap on one request body. Drip publishes no body limit; 5 MiB holds 1000 records of ~5 KB."""

FORMATS = ("json", "jsonl", "csv", "parquet")

Transform = Callable[[dict[str, Any]], "dict[str, Any] | None"]


@dataclass(frozen=True)
class SourceSpec:
    """Where records come from: in-memory ``records`` or a ``source`` path, and how to read it."""

    records: Iterable[Mapping[str, Any]] | None = None
    source: Any = None
    source_format: str | None = None
    csv_delimiter: str = ","
    encoding: str = "utf-8"
    list_delimiter: str = ","
    """Separator of list values in a CSV cell (``tags``: ``"a,b"``)."""

    def __post_init__(self) -> None:
        if (self.records is None) == (self.source is None):
            raise ValueError(
                "give exactly one of records= (a list of dicts or an XComArg) or source= "
                "(a path, URI or ObjectStoragePath)"
            )
        if self.records is not None and isinstance(self.records, (str, bytes, Mapping)):
            raise TypeError(
                "records must be an iterable of mappings (e.g. a list of dicts), got a "
                f"{type(self.records).__name__}"
            )
        if self.source_format is not None and self.source_format not in FORMATS:
            raise ValueError(f"source_format must be one of {FORMATS}, got {self.source_format!r}")
        if not isinstance(self.csv_delimiter, str) or len(self.csv_delimiter) != 1:
            raise ValueError(f"csv_delimiter must be one character, got {self.csv_delimiter!r}")
        if not isinstance(self.list_delimiter, str) or not self.list_delimiter:
            raise ValueError(
                f"list_delimiter must be a non-empty string, got {self.list_delimiter!r}"
            )
        try:
            codecs.lookup(self.encoding)
        except (LookupError, TypeError):
            raise ValueError(f"encoding {self.encoding!r} is not a known text encoding") from None


@dataclass(frozen=True)
class MappingSpec:
    """How a source record becomes a Drip record: renames, a callable, duplicates dropped."""

    field_map: Mapping[str, str] | None = None
    """Source column -> Drip field; dotted targets nest (``"address.city"``)."""
    keep_unmapped: bool = True
    transform: Transform | None = None
    dedupe: bool = False
    coerce: bool | None = None
    """Coerce strings to the field table's types; None: only when every file is CSV."""

    def __post_init__(self) -> None:
        if self.field_map is not None:
            if not isinstance(self.field_map, Mapping):
                raise TypeError(f"field_map must be a mapping, got {type(self.field_map).__name__}")
            for src, dst in self.field_map.items():
                if not isinstance(src, str) or not isinstance(dst, str) or not dst:
                    raise ValueError(
                        f"field_map entries must map str to a non-empty str, got {src!r}: {dst!r}"
                    )
                if any(not part for part in dst.split(".")):
                    raise ValueError(f"field_map target {dst!r} has an empty path segment")
            object.__setattr__(self, "field_map", dict(self.field_map) or None)
        if self.transform is not None and not callable(self.transform):
            raise TypeError("transform must be a callable taking and returning a dict")


@dataclass(frozen=True)
class RejectSpec:
    """What an invalid record does: stop everything (``fail``) or go aside (``skip``)."""

    on_invalid: str = "fail"
    rejects_path: Any = None
    """JSON Lines file of rejected records (skip mode); never the source or inside it."""

    def __post_init__(self) -> None:
        if self.on_invalid not in ("fail", "skip"):
            raise ValueError(f"on_invalid must be 'fail' or 'skip', got {self.on_invalid!r}")

    @property
    def fail(self) -> bool:
        return self.on_invalid == "fail"


@dataclass(frozen=True)
class BatchSpec:
    """How records are grouped into requests."""

    batch_size: int = MAX_BATCH_SIZE
    max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES

    def __post_init__(self) -> None:
        size = self.batch_size
        if isinstance(size, bool) or not isinstance(size, int):
            raise ValueError(f"batch_size must be an integer, got {size!r}")
        if not 1 <= size <= MAX_BATCH_SIZE:
            raise ValueError(
                f"batch_size must be between 1 and {MAX_BATCH_SIZE} (Drip's limit per request), "
                f"got {size}"
            )
        cap = self.max_batch_bytes
        if isinstance(cap, bool) or not isinstance(cap, int) or cap <= 0:
            raise ValueError(f"max_batch_bytes must be a positive integer, got {cap!r}")
