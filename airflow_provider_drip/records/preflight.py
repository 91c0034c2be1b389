"""``check()``: a full pass without HTTP, and the spool that lets the next pass replay it.

With ``on_invalid="fail"`` the sync first checks everything, then sends: the same chunks twice.
The check keeps its serialised chunks in a local temporary file (``spool.ChunkSpool``), so the
sending pass is a sequential read instead of a second parse, map and validate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from airflow_provider_drip.records.chunker import Chunk, PipelineStats
from airflow_provider_drip.records.spool import ChunkSpool


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
    """Up to five ``{"position", "location", "reasons"}`` entries, for logs."""
    rejects_path: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)  # fields in order; the dict and lists are copies


def new_spool(key: Any) -> ChunkSpool | None:
    try:
        return ChunkSpool(key)
    except OSError:  # no usable temporary directory: just do without
        return None


def run_check(
    chunks: Iterator[Chunk],
    stats: Callable[[], PipelineStats],
    overhead: int,
    spool: ChunkSpool | None,
    samples: list[dict[str, Any]],
    rejects_path: Any,
) -> tuple[PreflightReport, ChunkSpool | None]:
    """Drain ``chunks`` (a pass from 0), spooling each; the report and the finished spool."""
    nchunks = 0
    body_bytes = 0
    try:
        for chunk in chunks:
            nchunks += 1
            body_bytes += overhead + sum(map(len, chunk.payloads)) + len(chunk) - 1
            if spool is not None:
                try:
                    st = stats()
                    spool.write(
                        chunk.start, chunk.end, st.counts(), st.rejected_by_rule, chunk.payloads
                    )
                except OSError:  # e.g. a full disk: the next pass reads the source again
                    spool.close()
                    spool = None
        if spool is not None:
            spool.finish(stats().counts(), stats().rejected_by_rule)
    except BaseException:
        if spool is not None:
            spool.close()
        raise
    s = stats()
    report = PreflightReport(
        total=s.records_read,
        valid=s.records_valid,
        rejected=s.records_rejected,
        filtered=s.records_filtered,
        deduplicated=s.records_deduplicated,
        to_send=s.records_emitted,
        chunks=nchunks,
        body_bytes=body_bytes,
        rejected_by_rule=dict(s.rejected_by_rule),
        sample_rejects=samples,
        rejects_path=None if rejects_path is None else str(rejects_path),
    )
    return report, spool


def replay(
    spool: ChunkSpool,
    start: int,
    overhead: int,
    stats: PipelineStats,
    fallback: Callable[[], Iterator[Chunk]],
    on_close: Callable[[ChunkSpool], None],
) -> Iterator[Chunk]:
    """The chunks a pass from ``start`` would yield, read back from ``spool``; ``fallback()``
    reads the source again when ``start`` falls inside a spooled chunk."""
    must_fall_back = False
    try:
        emitted = nchunks = nbytes = 0
        for frame in spool.frames(start):
            payloads = frame.payloads
            if payloads is None:
                # A start inside a multi-record chunk gives a new chunk boundary there
                # (only a start at a chunk edge is a cursor a sync saves): cannot replay.
                if frame.start < start < frame.end and frame.count > 1:
                    must_fall_back = True
                    break
                continue
            emitted += frame.count
            nchunks += 1
            nbytes += overhead + frame.block_bytes
            stats.set_counts(frame.counts, frame.rejected_by_rule)
            stats.records_emitted = emitted
            stats.chunks_emitted = nchunks
            stats.bytes_emitted = nbytes
            yield Chunk(frame.start, frame.end, payloads)
        if not must_fall_back:
            assert spool.final is not None
            stats.set_counts(*spool.final)
            stats.records_emitted = emitted
            stats.chunks_emitted = nchunks
            stats.bytes_emitted = nbytes
    finally:
        spool.close()
        on_close(spool)
    if must_fall_back:
        yield from fallback()
