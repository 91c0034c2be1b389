"""RecordPipeline: source -> prepare (map, coerce, transform, validate) -> dedupe -> chunk.

Pure (no HTTP) and streaming. Every pass reads the source from its start, so positions,
verdicts and chunk boundaries come out the same on every pass and in every process; a resume at
a previous ``chunk.end`` yields exactly the chunks the first run had not sent yet.

This class only wires the pieces, each in its own module:
``specs`` (the parameters, checked once), ``sources`` (reading), ``preparer`` (the per-record
hot path), ``dedupe``, ``chunker`` (chunks and the GIL hand-over), ``rejects`` (the rejects
file and the fail/skip verdict), ``preflight`` (``check()`` and its replay spool) and
``fingerprint`` (which input a cursor belongs to).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from airflow_provider_drip.records import preflight
from airflow_provider_drip.records.chunker import (
    HAND_OVER_GIL_EVERY,
    ChangeFilter,
    Chunk,
    PipelineStats,
    chunk_pass,
)
from airflow_provider_drip.records.dedupe import compile_identity, last_positions
from airflow_provider_drip.records.errors import UnknownColumnsError
from airflow_provider_drip.records.field_tables import get_rules
from airflow_provider_drip.records.fingerprint import input_fingerprint
from airflow_provider_drip.records.preflight import PreflightReport
from airflow_provider_drip.records.preparer import RECORD_FIELD, RecordPreparer, original
from airflow_provider_drip.records.rejects import RejectSink, check_rejects_path
from airflow_provider_drip.records.sources import FileSource, MemorySource
from airflow_provider_drip.records.specs import (
    DEFAULT_MAX_BATCH_BYTES,
    BatchSpec,
    MappingSpec,
    RejectSpec,
    SourceSpec,
    Transform,
)
from airflow_provider_drip.records.spool import ChunkSpool
from airflow_provider_drip.resources import MAX_BATCH_SIZE, get_resource

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_MAX_BATCH_BYTES",
    "HAND_OVER_GIL_EVERY",
    "RECORD_FIELD",
    "Chunk",
    "PipelineStats",
    "PreflightReport",
    "RecordPipeline",
]


class RecordPipeline:
    """Turn a record source into validated, serialised, deterministic chunks for one resource.

    Build it from keywords (``RecordPipeline("subscribers", source=..., batch_size=...)``) or
    from specs (``RecordPipeline.from_specs``). docs/records.md describes every parameter.
    """

    def __init__(
        self,
        resource: str,
        records: Iterable[Mapping[str, Any]] | None = None,
        source: Any = None,
        source_format: str | None = None,
        field_map: Mapping[str, str] | None = None,
        keep_unmapped: bool = True,
        transform: Transform | None = None,
        on_invalid: str = "fail",
        rejects_path: Any = None,
        batch_size: int = MAX_BATCH_SIZE,
        max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
        dedupe: bool = False,
        csv_delimiter: str = ",",
        encoding: str = "utf-8",
        list_delimiter: str = ",",
        coerce: bool | None = None,
        change_filter: ChangeFilter | None = None,
    ) -> None:
        self._setup(
            resource,
            SourceSpec(records, source, source_format, csv_delimiter, encoding, list_delimiter),
            MappingSpec(field_map, keep_unmapped, transform, dedupe, coerce),
            RejectSpec(on_invalid, rejects_path),
            BatchSpec(batch_size, max_batch_bytes),
            change_filter,
        )

    @classmethod
    def from_specs(
        cls,
        resource: str,
        source: SourceSpec,
        mapping: MappingSpec | None = None,
        rejects: RejectSpec | None = None,
        batching: BatchSpec | None = None,
        change_filter: ChangeFilter | None = None,
    ) -> RecordPipeline:
        """A pipeline from already checked specs (the operator's way in)."""
        self = cls.__new__(cls)
        self._setup(
            resource,
            source,
            mapping or MappingSpec(),
            rejects or RejectSpec(),
            batching or BatchSpec(),
            change_filter,
        )
        return self

    def _setup(
        self,
        resource: str,
        source: SourceSpec,
        mapping: MappingSpec,
        rejects: RejectSpec,
        batching: BatchSpec,
        change_filter: ChangeFilter | None,
    ) -> None:
        """Checks that need the resource or the files, then the compiled pieces."""
        self.resource = get_resource(resource)
        self.rules = get_rules(resource)
        prefix, suffix = self.resource.envelope_prefix_suffix()
        self._overhead = len(prefix) + len(suffix)
        if batching.max_batch_bytes <= self._overhead + 2:
            raise ValueError(
                f"max_batch_bytes={batching.max_batch_bytes} cannot hold a single record"
            )
        if mapping.dedupe and not self.resource.identity_fields:
            raise ValueError(
                f"dedupe=True needs an identity key, and {resource!r} has none "
                "(every event is a separate occurrence)"
            )
        self.source_spec = source
        self.mapping = mapping
        self.rejects = rejects
        self.batching = batching
        self.change_filter = change_filter
        """Changed mode: asked about each valid record's payload (see ``chunker.ChangeFilter``)."""
        if source.records is not None:
            self._source: FileSource | MemorySource = MemorySource(source.records)
        else:
            self._source = FileSource(
                source.source, source.source_format, source.encoding, source.csv_delimiter
            )
            if rejects.rejects_path is not None:
                check_rejects_path(rejects.rejects_path, self._source)
        self.coerce = self._source.strings_only if mapping.coerce is None else bool(mapping.coerce)
        self._preparer = RecordPreparer(
            self.rules,
            mapping,
            source,
            self.coerce,
            room=batching.max_batch_bytes - self._overhead,
            max_batch_bytes=batching.max_batch_bytes,
        )
        # JSON lines that need no reshaping are checked in C and forwarded as they are.
        jsonl = isinstance(self._source, FileSource) and any(
            fmt == "jsonl" for fmt, _ in self._source.formats
        )
        plain = jsonl and not self._preparer.reshapes and not mapping.dedupe
        self._accept_line = self._preparer.line_check() if plain else None
        self._identity = compile_identity(self.resource.identity_fields)
        self._spool: ChunkSpool | None = None
        self._replaying: ChunkSpool | None = None
        self._dedupe_index: dict[Any, int] | None = None
        self._checked_total: int | None = None
        self._warned_columns = False
        self.stats = PipelineStats()

    # -- the parameters, as attributes (the sync loop and older callers read them) ------------

    @property
    def batch_size(self) -> int:
        return self.batching.batch_size

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        self.batching = replace(self.batching, batch_size=value)

    @property
    def max_batch_bytes(self) -> int:
        return self.batching.max_batch_bytes

    @property
    def on_invalid(self) -> str:
        return self.rejects.on_invalid

    @property
    def rejects_path(self) -> Any:
        return self.rejects.rejects_path

    @property
    def transform(self) -> Transform | None:
        return self.mapping.transform

    @property
    def dedupe(self) -> bool:
        return self.mapping.dedupe

    @property
    def field_map(self) -> dict[str, str] | None:
        return self.mapping.field_map  # type: ignore[return-value]

    # -- public API ---------------------------------------------------------------------------

    @property
    def total_hint(self) -> int | None:
        """Number of source records if known: len() of an in-memory sequence, or after check()."""
        if self._checked_total is not None:
            return self._checked_total
        if isinstance(self._source, MemorySource):
            return self._source.total_hint
        return None

    def fingerprint(self) -> str:
        """Stable digest of the input and every parameter that shapes the chunks
        (``fingerprint.input_fingerprint``)."""
        return input_fingerprint(
            self.resource.name,
            self._source,
            self.source_spec,
            self.mapping,
            self.batching,
            self.coerce,
        )

    def check(self, spool: bool = True) -> PreflightReport:
        """Full pass without HTTP: validate everything, count what would be sent.

        With ``on_invalid="fail"`` raises InvalidRecordError at the first invalid record; with
        "skip" writes the rejects file (if ``rejects_path``) and reports the counts.

        With ``spool`` (default) the serialised chunks are kept in a local temporary file, and
        the next ``chunks()`` on this pipeline replays them instead of reading the source again
        (same chunks, same stats; the rejects file is not rewritten). ``close()`` frees it.
        """
        if self._spool is not None:  # an unused spool of an earlier check()
            self._spool.close()
            self._spool = None
        samples: list[dict[str, Any]] = []
        report, self._spool = preflight.run_check(
            self._run(0, samples),
            lambda: self.stats,
            self._overhead,
            preflight.new_spool(self._pass_key()) if spool else None,
            samples,
            self.rejects.rejects_path,
        )
        self._checked_total = report.total
        missing = self._unknown_columns()
        if missing is not None and self.rejects.fail:
            self.close()
            raise missing
        return report

    def chunks(self, start: int = 0, *, background: bool = False) -> Iterator[Chunk]:
        """Chunks of records at positions >= ``start`` (a resume passes its cursor).

        Earlier positions are still read and validated, so counts and the rejects file are
        complete on every pass. ``background``: the pass runs in a thread beside one waiting on
        sockets, so it hands over the GIL every ``HAND_OVER_GIL_EVERY`` records.
        """
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            raise ValueError(f"start must be a non-negative integer, got {start!r}")
        spool, self._spool = self._spool, None
        if spool is not None:
            if spool.final is not None and spool.key == self._pass_key():
                self._replaying = spool
                return self._replay(spool, start, background)
            spool.close()
        return self._run(start, None, background=background)

    def close(self) -> None:
        """Free the chunk spool kept by ``check()`` (also done when its replay finishes)."""
        for spool in (self._spool, self._replaying):
            if spool is not None:
                spool.close()
        self._spool = self._replaying = None

    def __enter__(self) -> RecordPipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the passes ---------------------------------------------------------------------------

    def _pass_key(self) -> tuple[Any, ...]:
        """Settings read by a pass: a spool is replayed only if none changed since check()."""
        return (self.batching, self.rejects, self.mapping, self.change_filter)

    def _replay(self, spool: ChunkSpool, start: int, background: bool) -> Iterator[Chunk]:
        self.stats = PipelineStats()

        def done(closed: ChunkSpool) -> None:
            if self._replaying is closed:
                self._replaying = None

        return preflight.replay(
            spool,
            start,
            self._overhead,
            self.stats,
            lambda: self._run(start, None, background=background),
            done,
        )

    def _run(
        self, start: int, samples: list[dict[str, Any]] | None, *, background: bool = False
    ) -> Iterator[Chunk]:
        stats = PipelineStats()
        self.stats = stats
        last_pos = self._build_dedupe_index() if self.mapping.dedupe else None
        location = self._source.location
        rejects = RejectSink(self.rejects, stats.rejected_by_rule, samples, location, original)
        # the reader asks ``known`` only of lines it may send as they are (see _read_jsonl)
        known_line = self.change_filter.known if self.change_filter is not None else None
        yield from chunk_pass(
            self._source.records(self._accept_line, known_line),
            self._preparer.make(),
            stats=stats,
            batching=self.batching,
            overhead=self._overhead,
            rejects=rejects,
            start=start,
            last_positions=last_pos,
            identity=self._identity,
            change_filter=self.change_filter,
            hand_over=HAND_OVER_GIL_EVERY if background else 0,
        )
        missing = self._unknown_columns()
        if missing is not None and not self.rejects.fail and not self._warned_columns:
            self._warned_columns = True
            log.warning(
                "field_map names column(s) %s that none of the %d records of %s has (a typo?); "
                "the records went on without those fields",
                ", ".join(map(repr, missing.columns)),
                missing.records_read,
                missing.source,
            )

    def _unknown_columns(self) -> UnknownColumnsError | None:
        """The field_map columns the last full pass never saw (None: all seen, or no input)."""
        unseen = self._preparer.unseen_columns
        read = self.stats.records_read
        if not unseen or not read:
            return None
        columns = [c for c in self.mapping.field_map or () if c in unseen]
        where = "records=" if isinstance(self._source, MemorySource) else self._source.display
        return UnknownColumnsError(columns, read, where)

    def _build_dedupe_index(self) -> dict[Any, int]:
        if self._dedupe_index is None:
            self._dedupe_index = last_positions(
                self._source,
                self._preparer.make(),
                self._identity,
                self.rejects.fail,
                original,
                self._source.location,
            )
        return self._dedupe_index
