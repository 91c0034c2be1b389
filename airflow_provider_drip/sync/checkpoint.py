"""The sync cursor and the stores it lives in between tries.

The cursor must survive a killed worker, a retry and a deferral, so its natural home is the
task state store (Airflow 3.3). Older Airflow has none: the operator then keeps it under the
sync state path (``state.ObjectStorageCheckpoint``; see ``operators/sync_setup.py``).
``MemoryCheckpoint`` serves unit tests, benchmarks and a dry run without a connection.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


@dataclass
class SyncCursor:
    """Progress of one sync over one input, cumulative across tries and deferrals."""

    fingerprint: str
    position: int = 0
    """Source records consumed up to the end of the last accepted batch."""
    records_sent: int = 0
    batches_sent: int = 0
    request_id_parts: int = 0
    """v3 request ids are saved per batch under their own keys (``request_ids/<n>``), so the
    cursor stays small (Airflow's state store values should stay under 64 KB)."""
    total: int | None = None
    """Records in the input, once a full validation pass has counted them."""
    rate_limit_waits: int = 0
    rate_limit_wait_s: float = 0.0
    deferrals: int = 0
    http_retries: int = 0
    """Extra HTTP attempts the hook made for accepted batches (5xx, dropped connections)."""
    tries: int = 0
    """Task tries (or resumes after a deferral) that worked on this cursor."""
    started_at: float = 0.0
    """Epoch seconds when the first try started; the summary's duration covers the whole run."""
    ambiguous_ranges: list[dict[str, Any]] = field(default_factory=list)
    """Record ranges whose outcome was unknown and what was done about them."""
    pending_ambiguous: dict[str, Any] | None = None
    """A range whose outcome is unknown and that the ``fail`` policy refused to resend."""
    retry_at: str | None = None
    """ISO time until which Drip asked us to wait (set while deferred)."""
    in_flight: dict[str, Any] | None = None
    """A non-idempotent batch sent and not yet answered. Saved before the request leaves; a try
    that finds it treats the range as an unknown outcome (``on_ambiguous``), never as unsent."""
    rate_limits_in_a_row: int = 0
    """429 answers since the last accepted batch, across waits and deferrals."""
    wait_since_progress_s: float = 0.0
    """Seconds slept in the worker on rate limits since the last accepted batch."""
    records_new: int = 0
    """Changed mode: accepted records whose key the sync state did not know."""
    records_changed: int = 0
    """Changed mode: accepted records whose key the sync state knew (with other content)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> SyncCursor | None:
        if not isinstance(data, dict) or "fingerprint" not in data:
            return None
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


class CheckpointStore(Protocol):
    """The cursor under one key, plus named parts beside it (e.g. request ids per batch)."""

    def load(self) -> dict[str, Any] | None: ...
    def save(self, value: dict[str, Any]) -> None: ...
    def clear(self) -> None: ...
    def load_part(self, name: str) -> Any: ...
    def save_part(self, name: str, value: Any) -> None: ...
    def clear_part(self, name: str) -> None: ...


class TaskStateCheckpoint:
    """A cursor kept under one key of ``context["task_state_store"]``."""

    def __init__(self, store: Any, key: str) -> None:
        self.store = store
        self.key = key

    def load(self) -> dict[str, Any] | None:
        value = self.store.get(self.key, None)
        return value if isinstance(value, dict) else None

    def save(self, value: dict[str, Any]) -> None:
        self.store.set(self.key, value)

    def clear(self) -> None:
        self.store.delete(self.key)

    def load_part(self, name: str) -> Any:
        return self.store.get(f"{self.key}/{name}", None)

    def save_part(self, name: str, value: Any) -> None:
        self.store.set(f"{self.key}/{name}", value)

    def clear_part(self, name: str) -> None:
        self.store.delete(f"{self.key}/{name}")


class MemoryCheckpoint:
    """In-process cursor: survives deferral resumes in one process only."""

    _shared: dict[str, dict[str, Any]] = {}

    def __init__(self, key: str) -> None:
        self.key = key

    def load(self) -> dict[str, Any] | None:
        return self._shared.get(self.key)

    def save(self, value: dict[str, Any]) -> None:
        self._shared[self.key] = value

    def clear(self) -> None:
        self._shared.pop(self.key, None)

    def load_part(self, name: str) -> Any:
        return self._shared.get(f"{self.key}/{name}")

    def save_part(self, name: str, value: Any) -> None:
        self._shared[f"{self.key}/{name}"] = value

    def clear_part(self, name: str) -> None:
        self._shared.pop(f"{self.key}/{name}", None)
