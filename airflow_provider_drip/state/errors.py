"""Errors of the sync state store; each names the state's path so users can find it."""

from __future__ import annotations

from airflow_provider_drip.exceptions import DripError


class SyncStateError(DripError):
    """Base class of sync state errors."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path


class SyncStateConflictError(SyncStateError):
    """Another writer committed the same state since this one opened it.

    Committing anyway would drop that writer's accepted records from the state (they would be
    resent). Two runs must not share a ``state_key`` at the same time: serialise them (e.g.
    ``max_active_runs=1`` or a pool of one slot) or give them different keys.
    """


class SyncStateCorruptError(SyncStateError):
    """The stored state cannot be read (torn, foreign, or another digest version)."""
