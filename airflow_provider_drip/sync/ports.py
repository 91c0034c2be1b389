"""What the sync loop needs from its collaborators, as Protocols.

The loop is written against these, not against ``DripHook`` and ``RecordPipeline``, so a reader
sees exactly which calls it makes and unit tests can drive it with a fake sender.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from airflow_provider_drip.hooks.responses import BatchResponse
from airflow_provider_drip.resources import BatchResource


class Chunk(Protocol):
    """One request's worth of records and the source range it accounts for."""

    start: int
    end: int
    payloads: list[bytes]
    """Each record as serialised JSON: what changed mode digests once Drip accepted them."""

    def __len__(self) -> int: ...
    def body(self, resource: BatchResource) -> bytes: ...
    def records(self) -> list[dict[str, Any]]: ...


class ChunkStats(Protocol):
    """Counters of a pass over the input (``PipelineStats``)."""

    records_read: int
    records_rejected: int
    records_filtered: int
    records_deduplicated: int


class PreflightResult(Protocol):
    total: int


class ChunkSource(Protocol):
    """The record pipeline as the loop sees it: chunks from a position, a validation pass."""

    batch_size: int
    on_invalid: str
    stats: ChunkStats

    @property
    def total_hint(self) -> int | None: ...
    def check(self) -> PreflightResult: ...
    def chunks(self, start: int = 0, *, background: bool = False) -> Iterator[Chunk]: ...


class BatchSender(Protocol):
    """Sends one batch and says what Drip answered (``DripHook.post_batch``)."""

    def post_batch(
        self,
        resource: BatchResource,
        records: Any = None,
        *,
        body: bytes | None = None,
        record_count: int | None = None,
        max_rate_limit_wait: float = 0.0,
    ) -> BatchResponse: ...


class Logger(Protocol):
    def info(self, msg: str, *args: Any) -> None: ...
    def warning(self, msg: str, *args: Any) -> None: ...
