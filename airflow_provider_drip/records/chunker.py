"""Prepared records into request-sized chunks whose ranges tile the input.

A chunk closes when the next record to send shows up (or the input ends), so chunk ranges tile
the input: ``chunk.end`` is the position of the next chunk's first record, and records rejected,
filtered, deduplicated or unchanged in between are covered by the earlier chunk's range.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import msgspec

from airflow_provider_drip.records.errors import Violation
from airflow_provider_drip.records.preparer import FILTERED
from airflow_provider_drip.records.readers import KNOWN_LINE
from airflow_provider_drip.records.rejects import RejectSink
from airflow_provider_drip.records.specs import BatchSpec
from airflow_provider_drip.resources import BatchResource, get_resource

HAND_OVER_GIL_EVERY = 128
"""Records between two GIL hand-overs in a background pass (``chunks(background=True)``).

The sync loop reads the next chunk in a thread while the request in flight waits on its
socket; that thread needs the GIL briefly after every socket wake-up, and a CPU-bound pass
gives it up only when CPython's switch interval (5 ms) runs out. ``time.sleep(0)`` every 128
records (about 1.5 ms of CSV work) hands it over sooner. Measurements: bench/FINDINGS.md.
"""


class ChangeFilter(Protocol):
    """Changed mode's questions about payloads (``sync.changes.ChangeTracker`` answers them)."""

    known: Callable[[bytes], bool]
    """True when Drip already accepted exactly these bytes: asked about raw JSON lines before
    any decoding (``readers.KNOWN_LINE``), so an unchanged line costs one hash and one lookup."""
    verdict: Callable[[bytes], bool | list[Violation]]
    """Asked about each valid record's payload; False drops it as unchanged (before chunking,
    so batches stay full), violations reject it."""


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

    def counts(self) -> tuple[int, ...]:
        """The input-side counters (what a spooled chunk remembers)."""
        return tuple(getattr(self, name) for name in INPUT_COUNTERS)

    def set_counts(self, counts: tuple[int, ...], by_rule: dict[str, int]) -> None:
        for name, value in zip(INPUT_COUNTERS, counts, strict=True):
            setattr(self, name, value)
        self.rejected_by_rule.clear()
        self.rejected_by_rule.update(by_rule)


INPUT_COUNTERS = (
    "records_read",
    "records_valid",
    "records_rejected",
    "records_filtered",
    "records_deduplicated",
    "records_unchanged",
)
"""``PipelineStats`` fields about the input, in the order a spool stores them."""


def chunk_pass(
    records: Iterable[Any],
    prepare: Callable[[Any], Any],
    *,
    stats: PipelineStats,
    batching: BatchSpec,
    overhead: int,
    rejects: RejectSink,
    start: int = 0,
    last_positions: dict[Any, int] | None = None,
    identity: Callable[[Any], Any] | None = None,
    change_filter: ChangeFilter | None = None,
    hand_over: int = 0,
) -> Iterator[Chunk]:
    """One pass: every record prepared, judged and counted; chunks from ``start`` on yielded.

    ``last_positions``/``identity``: dedupe (a record whose key shows up later is dropped).
    ``hand_over``: records between two GIL hand-overs (0: never).
    """
    batch_size = batching.batch_size
    cap = batching.max_batch_bytes
    payloads: list[bytes] = []
    size = overhead
    chunk_start = 0
    read = valid = rejected = filtered = deduped = unchanged = emitted = nchunks = nbytes = 0
    fail = rejects.fail
    reject = rejects.reject
    verdict = change_filter.verdict if change_filter is not None else None
    known_line = KNOWN_LINE
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
        for pos, raw in enumerate(records):
            read += 1
            if hand_over:
                countdown -= 1
                if not countdown:
                    countdown = hand_over
                    hand_over_gil(0)
            if raw is known_line:
                unchanged += 1
                continue
            out = prepare(raw)
            if verdict is not None and type(out) is tuple:
                said = verdict(out[1])
                if said is False:
                    unchanged += 1
                    continue
                if type(said) is list:
                    out = said
            if type(out) is not tuple:
                if out is FILTERED:
                    filtered += 1
                    continue
                if fail:
                    sync()  # the counters as they stood, for the error's summary
                else:
                    rejected += 1
                reject(pos, raw, out)  # raises InvalidRecordError in fail mode
                continue
            valid += 1
            if last_positions is not None:
                key = identity(out[0])  # type: ignore[misc]
                if key is not None and last_positions.get(key, pos) != pos:
                    deduped += 1
                    continue
            if pos < start:
                continue
            payload = out[1]
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
        rejects.close()
