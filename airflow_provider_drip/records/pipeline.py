"""RecordPipeline: source -> map -> coerce -> transform -> validate -> dedupe -> chunk, streaming.

Pure (no HTTP). Every pass reads the source from its start, so positions, verdicts and chunk
boundaries come out the same on every pass and in every process; a resume at a previous
``chunk.end`` yields exactly the chunks the first run had not sent yet.

A chunk closes when the next record to send shows up (or the input ends), so chunk ranges tile
the input: ``chunk.end`` is the position of the next chunk's first record, and records rejected,
filtered or deduplicated in between are covered by the earlier chunk's range.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import msgspec

from airflow_provider_drip.records.errors import InvalidRecordError, Violation
from airflow_provider_drip.records.field_tables import get_rules
from airflow_provider_drip.records.jsonl_check import compile_line_check
from airflow_provider_drip.records.mapping import (
    compile_coercer,
    compile_field_map,
    compile_row_plan,
    row_targets,
)
from airflow_provider_drip.records.rejects import RejectsWriter, check_rejects_path
from airflow_provider_drip.records.sources import (
    CsvRow,
    FileSource,
    JsonLine,
    MemorySource,
    Unreadable,
    new_hash,
)
from airflow_provider_drip.records.spool import ChunkSpool
from airflow_provider_drip.records.validate import (
    compile_normaliser,
    compile_row_validator,
    compile_validator,
    find_non_finite,
)
from airflow_provider_drip.resources import MAX_BATCH_SIZE, BatchResource, get_resource

DEFAULT_MAX_BATCH_BYTES = 5 * 1024 * 1024
"""Cap on one request body. Drip publishes no body limit; 5 MiB holds 1000 records of ~5 KB."""

FINGERPRINT_VERSION = "drip-records/1"
RECORD_FIELD = "<record>"
"""``field`` of violations about the record as a whole (unparseable, not an object, too big)."""

_SAMPLE_REJECTS = 5

HAND_OVER_GIL_EVERY = 128
"""Records between two GIL hand-overs in a background pass (``chunks(background=True)``).

The sync loop reads the next chunk in a thread while the request in flight waits on its socket.
That waiting thread needs the GIL briefly after every socket wake-up, and a CPU-bound pass gives
it up only when CPython's switch interval (5 ms) runs out, so each request queued behind the
pass. ``time.sleep(0)`` every 128 records (about 1.5 ms of CSV work) hands it over sooner: 200k
CSV rows went from 4.04-4.55 s to 3.20-3.95 s in one interleaved 6-round run (bench/FINDINGS.md).
Every 64 or 256 records gained less; JSON lines neither gained nor lost.
"""


def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, date):  # pendulum and other date/datetime subclasses
        return obj.isoformat()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


_ENCODER = msgspec.json.Encoder(decimal_format="number", enc_hook=_enc_hook)
_FILTERED = object()

RowPlan = tuple[
    Callable[[list[str]], dict[str, Any]], Callable[[dict[str, Any]], "list[Violation] | None"]
]
"""A CSV header's row builder and the validator that goes with it."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """Records for one request: serialised payloads and the source range they account for."""

    start: int
    """Source position of the first record in the chunk."""
    end: int
    """Source position just after the last record consumed for it: the cursor after sending."""
    payloads: list[bytes]
    """Each record as compact JSON bytes."""

    def __len__(self) -> int:
        return len(self.payloads)

    def body(self, resource: BatchResource | str) -> bytes:
        """The full request body for ``resource`` (its envelope around the records)."""
        if isinstance(resource, str):
            resource = get_resource(resource)
        prefix, suffix = resource.envelope_prefix_suffix()
        return prefix + b",".join(self.payloads) + suffix

    def records(self) -> list[dict[str, Any]]:
        """The records decoded again (for dry-run samples and logs)."""
        decode = msgspec.json.decode
        return [decode(p) for p in self.payloads]


@dataclass
class PipelineStats:
    """Counters of the current (or last) pass; updated whenever a chunk is handed out."""

    records_read: int = 0
    records_valid: int = 0
    records_rejected: int = 0
    records_filtered: int = 0
    records_deduplicated: int = 0
    records_unchanged: int = 0
    """Changed mode: valid records the sync state says Drip already has."""
    records_emitted: int = 0
    chunks_emitted: int = 0
    bytes_emitted: int = 0
    rejected_by_rule: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)  # fields in order; the dict and lists are copies


@dataclass(frozen=True)
class PreflightReport:
    """Result of ``check()``: what a sync would send, without sending anything."""

    total: int
    valid: int
    rejected: int
    filtered: int
    deduplicated: int
    to_send: int
    chunks: int
    body_bytes: int
    rejected_by_rule: dict[str, int]
    sample_rejects: list[dict[str, Any]]
    """Up to five ``{"position", "reasons"}`` entries, for logs."""
    rejects_path: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)  # fields in order; the dict and lists are copies


class RecordPipeline:
    """Turn a record source into validated, serialised, deterministic chunks for one resource.

    See the README section "Records: sources, mapping, validation" for the user-facing
    description of every parameter.
    """

    def __init__(
        self,
        resource: str,
        records: Iterable[Mapping[str, Any]] | None = None,
        source: Any = None,
        source_format: str | None = None,
        field_map: Mapping[str, str] | None = None,
        keep_unmapped: bool = True,
        transform: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None,
        on_invalid: str = "fail",
        rejects_path: Any = None,
        batch_size: int = MAX_BATCH_SIZE,
        max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
        dedupe: bool = False,
        csv_delimiter: str = ",",
        encoding: str = "utf-8",
        list_delimiter: str = ",",
        coerce: bool | None = None,
        change_filter: Callable[[bytes], bool | list[Violation]] | None = None,
    ) -> None:
        self.change_filter = change_filter
        """Changed mode: asked about each valid record's payload; False drops it as unchanged
        (before chunking, so batches stay full), violations reject it."""
        self.resource = get_resource(resource)
        self.rules = get_rules(resource)
        if (records is None) == (source is None):
            raise ValueError("Give exactly one of records= or source=")
        if on_invalid not in ("fail", "skip"):
            raise ValueError(f"on_invalid must be 'fail' or 'skip', got {on_invalid!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int):
            raise ValueError(f"batch_size must be an integer, got {batch_size!r}")
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH_SIZE}, got {batch_size}")
        prefix, suffix = self.resource.envelope_prefix_suffix()
        self._overhead = len(prefix) + len(suffix)
        if max_batch_bytes <= self._overhead + 2:
            raise ValueError(f"max_batch_bytes={max_batch_bytes} cannot hold a single record")
        if dedupe and not self.resource.identity_fields:
            raise ValueError(
                f"dedupe=True needs an identity key, and {resource!r} has none "
                "(every event is a separate occurrence)"
            )
        if transform is not None and not callable(transform):
            raise TypeError("transform must be a callable taking and returning a dict")
        if records is not None:
            self._source: FileSource | MemorySource = MemorySource(records)
        else:
            self._source = FileSource(source, source_format, encoding, csv_delimiter)
            if rejects_path is not None:
                check_rejects_path(rejects_path, self._source)
        self.source_format = source_format
        self.field_map = dict(field_map) if field_map else None
        self.keep_unmapped = keep_unmapped
        self.transform = transform
        self.on_invalid = on_invalid
        self.rejects_path = rejects_path
        self.batch_size = batch_size
        self.max_batch_bytes = max_batch_bytes
        self.dedupe = dedupe
        self.csv_delimiter = csv_delimiter
        self.encoding = encoding
        self.list_delimiter = list_delimiter
        self.coerce = self._source.strings_only if coerce is None else bool(coerce)

        self._mapper = compile_field_map(self.field_map, keep_unmapped)
        self._coercer = compile_coercer(self.rules.fields, list_delimiter) if self.coerce else None
        self._validate = compile_validator(self.rules)
        self._normalise = compile_normaliser(self.rules.fields)
        # JSON lines that need no reshaping are checked in C and forwarded as they are.
        reshapes = self._mapper is not None or self._coercer is not None or transform is not None
        jsonl = isinstance(self._source, FileSource) and any(
            fmt == "jsonl" for fmt, _ in self._source.formats
        )
        self._accept_line = (
            compile_line_check(self.rules) if jsonl and not reshapes and not dedupe else None
        )
        self._row_plans: dict[tuple[str, ...], RowPlan] = {}
        self._spool: ChunkSpool | None = None
        self._replaying: ChunkSpool | None = None
        self._dedupe_index: dict[Any, int] | None = None
        self._checked_total: int | None = None
        self.stats = PipelineStats()

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
        """Stable digest of the input's identity and every parameter that shapes the chunks.

        ``on_invalid`` and ``rejects_path`` are left out on purpose: they change what happens to
        invalid records, not positions or chunk boundaries, so a run that failed with "fail" can be
        resumed with "skip".
        """
        h = new_hash()
        h.update(FINGERPRINT_VERSION.encode() + b"\n")
        kind = "records" if isinstance(self._source, MemorySource) else "files"
        h.update(f"{self.resource.name}\n{kind}\n".encode())
        self._source.update_fingerprint(h)
        transform = self.transform
        params = {
            "source_format": self.source_format,
            "field_map": self.field_map,
            "keep_unmapped": self.keep_unmapped,
            "transform": None
            if transform is None
            else f"{getattr(transform, '__module__', '')}:"
            f"{getattr(transform, '__qualname__', type(transform).__qualname__)}",
            "batch_size": self.batch_size,
            "max_batch_bytes": self.max_batch_bytes,
            "dedupe": self.dedupe,
            "csv_delimiter": self.csv_delimiter,
            "encoding": self.encoding,
            "list_delimiter": self.list_delimiter,
            "coerce": self.coerce,
        }
        h.update(json.dumps(params, sort_keys=True).encode())
        return h.hexdigest()

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
        writer = self._new_spool() if spool else None
        samples: list[dict[str, Any]] = []
        chunks = 0
        body_bytes = 0
        try:
            for chunk in self._run(0, samples):
                chunks += 1
                body_bytes += self._overhead + sum(map(len, chunk.payloads)) + len(chunk) - 1
                if writer is not None:
                    try:
                        st = self.stats
                        writer.write(
                            chunk.start, chunk.end, _counts(st), st.rejected_by_rule, chunk.payloads
                        )
                    except OSError:  # e.g. a full disk: the next pass reads the source again
                        writer.close()
                        writer = None
            if writer is not None:
                writer.finish(_counts(self.stats), self.stats.rejected_by_rule)
        except BaseException:
            if writer is not None:
                writer.close()
            raise
        self._spool = writer
        s = self.stats
        self._checked_total = s.records_read
        return PreflightReport(
            total=s.records_read,
            valid=s.records_valid,
            rejected=s.records_rejected,
            filtered=s.records_filtered,
            deduplicated=s.records_deduplicated,
            to_send=s.records_emitted,
            chunks=chunks,
            body_bytes=body_bytes,
            rejected_by_rule=dict(s.rejected_by_rule),
            sample_rejects=samples,
            rejects_path=None if self.rejects_path is None else str(self.rejects_path),
        )

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
        self._drop_spool()

    def __enter__(self) -> RecordPipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the spool of check()'s chunks --------------------------------------------------------

    def _pass_key(self) -> tuple[Any, ...]:
        """Settings read by a pass: a spool is replayed only if none changed since check()."""
        return (
            self.batch_size,
            self.max_batch_bytes,
            self.on_invalid,
            self.rejects_path,
            self.transform,
            self.dedupe,
            self.change_filter,
        )

    def _new_spool(self) -> ChunkSpool | None:
        try:
            return ChunkSpool(self._pass_key())
        except OSError:  # no usable temporary directory: just do without
            return None

    def _drop_spool(self) -> None:
        for spool in (self._spool, self._replaying):
            if spool is not None:
                spool.close()
        self._spool = self._replaying = None

    def _replay(self, spool: ChunkSpool, start: int, background: bool) -> Iterator[Chunk]:
        """The chunks a pass from ``start`` would yield, read back from ``spool``."""
        try:
            stats = PipelineStats()
            self.stats = stats
            overhead = self._overhead
            emitted = nchunks = nbytes = 0
            fallback = False
            for frame in spool.frames(start):
                payloads = frame.payloads
                if payloads is None:
                    # A start inside a multi-record chunk gives a new chunk boundary there
                    # (only a start at a chunk edge is a cursor a sync saves): cannot replay.
                    if frame.start < start < frame.end and frame.count > 1:
                        fallback = True
                        break
                    continue
                emitted += frame.count
                nchunks += 1
                nbytes += overhead + frame.block_bytes
                _set_counts(stats, frame.counts, frame.rejected_by_rule)
                stats.records_emitted = emitted
                stats.chunks_emitted = nchunks
                stats.bytes_emitted = nbytes
                yield Chunk(frame.start, frame.end, payloads)
            if not fallback:
                assert spool.final is not None
                _set_counts(stats, *spool.final)
                stats.records_emitted = emitted
                stats.chunks_emitted = nchunks
                stats.bytes_emitted = nbytes
        finally:
            spool.close()
            if self._replaying is spool:
                self._replaying = None
        if fallback:
            yield from self._run(start, None, background=background)

    # -- the pass -----------------------------------------------------------------------------

    def _row_plan(self, header: tuple[str, ...]) -> RowPlan:
        """Map + coerce plan for CSV rows under ``header`` (built once per distinct header),
        with a validator that skips the fields the plan can only fill with valid values."""
        plan = self._row_plans.get(header)
        if plan is None:
            fields = self.rules.fields if self._coercer is not None else None
            keep = self.keep_unmapped
            build = compile_row_plan(header, self.field_map, keep, fields, self.list_delimiter)
            targets = [parts for _, parts in row_targets(header, self.field_map, keep)]
            validate = compile_row_validator(targets, self.rules)
            plan = self._row_plans[header] = (build, validate)
        return plan

    def _make_prepare(self) -> Callable[[Any], Any]:
        """Build the per-record step as a closure over locals (the hot path of every pass)."""
        coercer = self._coercer
        mapper = self._mapper
        transform = self.transform
        validate = self._validate
        normalise = self._normalise
        encode = _ENCODER.encode
        room = self.max_batch_bytes - self._overhead
        max_batch_bytes = self.max_batch_bytes
        row_plan = self._row_plan
        plan_header: tuple[str, ...] | None = None
        build_row: Callable[[list[str]], dict[str, Any]] | None = None
        validate_row: Callable[[dict[str, Any]], list[Violation] | None] = validate

        def prepare(raw: Any) -> tuple[Any, bytes] | list[Violation] | object:
            """One source record -> (record, payload), violations, or _FILTERED."""
            nonlocal plan_header, build_row, validate_row
            rec = raw
            if type(rec) is JsonLine:  # checked by fastcheck: its bytes are the payload
                if len(rec.data) > room:
                    return [_too_big(len(rec.data), max_batch_bytes)]
                return None, rec.data
            if type(rec) is CsvRow:  # one pass: empty-cell drop, field_map and coercion
                if rec.header is not plan_header:
                    plan_header = rec.header
                    build_row, validate_row = row_plan(rec.header)
                rec = build_row(rec.values)  # type: ignore[misc]
                if transform is None:
                    # Cells, coerced numbers (finite), booleans, lists and dicts: always JSON.
                    errors = validate_row(rec)
                    if errors:
                        fixed = normalise(rec)
                        if fixed is None:
                            return errors
                        rec = fixed
                        errors = validate(rec)
                        if errors:
                            return errors
                    payload = encode(rec)
                    if len(payload) > room:
                        return [_too_big(len(payload), max_batch_bytes)]
                    return rec, payload
            else:
                if type(rec) is not dict:
                    if type(raw) is Unreadable:
                        return [Violation(RECORD_FIELD, raw.rule, raw.message)]
                    if not isinstance(rec, Mapping):
                        return [_not_an_object(rec)]
                    rec = dict(rec)
                if coercer is not None:
                    rec = {k: v for k, v in rec.items() if v is not None and v != ""}
                if mapper is not None:
                    rec = mapper(rec)
                if coercer is not None:
                    rec = coercer(rec)
            if transform is not None:
                rec = transform(dict(rec) if rec is raw else rec)
                if rec is None:
                    return _FILTERED
                if type(rec) is not dict:
                    if not isinstance(rec, Mapping):
                        return [_not_an_object(rec, "transform returned")]
                    rec = dict(rec)
            errors = validate(rec)
            if errors:  # a documented alternative form (one tag as a string, 5.0 for 5)?
                fixed = normalise(rec)
                if fixed is None:
                    return errors
                rec = fixed
                errors = validate(rec)
                if errors:
                    return errors
            try:
                payload = encode(rec)
            except (TypeError, ValueError, OverflowError, RecursionError) as exc:
                return [
                    Violation(RECORD_FIELD, "not_serializable", f"not JSON serialisable: {exc}")
                ]
            if b"null" in payload or b"NaN" in payload or b"Infinity" in payload:
                where = find_non_finite(rec)
                if where is not None:
                    return [
                        Violation(where, "finite_number", "NaN and infinity are not valid JSON")
                    ]
            if len(payload) > room:
                return [_too_big(len(payload), max_batch_bytes)]
            return rec, payload

        return prepare

    def _identity(self, rec: Mapping[str, Any]) -> Any:
        for name in self.resource.identity_fields:
            value = rec.get(name)
            if value is None or value == "":
                continue
            if name == "email" and isinstance(value, str):
                value = value.strip().lower()
            try:
                hash(value)
            except TypeError:
                value = repr(value)
            return (name, value)
        return None

    def _build_dedupe_index(self) -> dict[Any, int]:
        """Pre-pass: last position of each identity key among valid records (memory ~ keys)."""
        if self._dedupe_index is None:
            index: dict[Any, int] = {}
            fail = self.on_invalid == "fail"
            prepare = self._make_prepare()
            for pos, raw in enumerate(self._source):
                out = prepare(raw)
                if type(out) is tuple:
                    key = self._identity(out[0])
                    if key is not None:
                        index[key] = pos
                elif fail and type(out) is list:
                    raise InvalidRecordError(pos, out, _original(raw), self._source.location())
            self._dedupe_index = index
        return self._dedupe_index

    def _run(
        self, start: int, samples: list[dict[str, Any]] | None, *, background: bool = False
    ) -> Iterator[Chunk]:
        stats = PipelineStats()
        self.stats = stats
        last_pos = self._build_dedupe_index() if self.dedupe else None
        fail = self.on_invalid == "fail"
        rejects = (
            RejectsWriter(self.rejects_path) if not fail and self.rejects_path is not None else None
        )
        by_rule = stats.rejected_by_rule
        prepare = self._make_prepare()
        location = self._source.location
        identity = self._identity
        batch_size = self.batch_size
        cap = self.max_batch_bytes
        overhead = self._overhead
        payloads: list[bytes] = []
        size = overhead
        chunk_start = 0
        read = valid = rejected = filtered = deduped = unchanged = emitted = nchunks = nbytes = 0
        change_filter = self.change_filter
        hand_over = HAND_OVER_GIL_EVERY if background else 0
        countdown = hand_over
        hand_over_gil = time.sleep

        def sync() -> None:
            stats.records_read = read
            stats.records_valid = valid
            stats.records_rejected = rejected
            stats.records_filtered = filtered
            stats.records_deduplicated = deduped
            stats.records_unchanged = unchanged
            stats.records_emitted = emitted
            stats.chunks_emitted = nchunks
            stats.bytes_emitted = nbytes

        try:
            for pos, raw in enumerate(self._source.records(self._accept_line)):
                read += 1
                if hand_over:
                    countdown -= 1
                    if not countdown:
                        countdown = hand_over
                        hand_over_gil(0)
                out = prepare(raw)
                if change_filter is not None and type(out) is tuple:
                    verdict = change_filter(out[1])
                    if verdict is False:
                        unchanged += 1
                        continue
                    if type(verdict) is list:
                        out = verdict
                if type(out) is not tuple:
                    if out is _FILTERED:
                        filtered += 1
                        continue
                    where = location()
                    if fail:
                        sync()
                        raise InvalidRecordError(pos, out, _original(raw), where)  # type: ignore[arg-type]
                    rejected += 1
                    for v in out:  # type: ignore[union-attr]
                        by_rule[v.rule] = by_rule.get(v.rule, 0) + 1
                    if rejects is not None:
                        rejects.write(pos, _original(raw), out, where)  # type: ignore[arg-type]
                    if samples is not None and len(samples) < _SAMPLE_REJECTS:
                        sample: dict[str, Any] = {"position": pos}
                        if where:
                            sample["location"] = where
                        sample["reasons"] = [v.as_dict() for v in out]  # type: ignore[union-attr]
                        samples.append(sample)
                    continue
                valid += 1
                rec, payload = out
                if last_pos is not None:
                    key = identity(rec)
                    if key is not None and last_pos.get(key, pos) != pos:
                        deduped += 1
                        continue
                if pos < start:
                    continue
                n = len(payload)
                if payloads and (len(payloads) >= batch_size or size + n + 1 > cap):
                    emitted += len(payloads)
                    nchunks += 1
                    nbytes += size
                    chunk = Chunk(chunk_start, pos, payloads)
                    payloads = []
                    size = overhead
                    sync()
                    yield chunk
                if not payloads:
                    chunk_start = pos
                    size += n
                else:
                    size += n + 1
                payloads.append(payload)
            if payloads:
                emitted += len(payloads)
                nchunks += 1
                nbytes += size
                sync()
                yield Chunk(chunk_start, read, payloads)
            sync()
        finally:
            if rejects is not None:
                rejects.close()


def _counts(stats: PipelineStats) -> tuple[int, ...]:
    return (
        stats.records_read,
        stats.records_valid,
        stats.records_rejected,
        stats.records_filtered,
        stats.records_deduplicated,
        stats.records_unchanged,
    )


def _set_counts(stats: PipelineStats, counts: tuple[int, ...], by_rule: dict[str, int]) -> None:
    (
        stats.records_read,
        stats.records_valid,
        stats.records_rejected,
        stats.records_filtered,
        stats.records_deduplicated,
        stats.records_unchanged,
    ) = counts
    stats.rejected_by_rule.clear()
    stats.rejected_by_rule.update(by_rule)


def _original(raw: Any) -> Any:
    """The source record as the user sees it (rejects file, InvalidRecordError.record)."""
    if type(raw) is CsvRow:
        return raw.as_dict()
    if type(raw) is JsonLine:
        return raw.decode()
    return raw.raw if type(raw) is Unreadable else raw


def _too_big(size: int, max_batch_bytes: int) -> Violation:
    return Violation(
        RECORD_FIELD,
        "max_bytes",
        f"record is {size} bytes serialised; a request body may hold at most {max_batch_bytes}",
    )


def _not_an_object(value: Any, what: str = "record is") -> Violation:
    return Violation(
        RECORD_FIELD, "not_an_object", f"{what} a {type(value).__name__}, not an object"
    )
