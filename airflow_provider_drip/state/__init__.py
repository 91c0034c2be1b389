"""Sync state that outlives a run: what Drip accepted per key, and the durable resume cursor.

``digest`` turns records into 64-bit key and content digests, ``store`` keeps them per
account, resource and state key under a ``state_path`` (any ``ObjectStoragePath``), and
``cursor_store`` keeps the sync cursor beside them where Airflow has no task state store.
"""

from __future__ import annotations

from airflow_provider_drip.state.cursor_store import ObjectStorageCheckpoint
from airflow_provider_drip.state.digest import (
    KeySpec,
    MissingKeyError,
    RecordDigester,
    RecordDigests,
    key_spec_for,
    record_digests,
)
from airflow_provider_drip.state.errors import (
    SyncStateConflictError,
    SyncStateCorruptError,
    SyncStateError,
)
from airflow_provider_drip.state.paths import default_state_path
from airflow_provider_drip.state.store import (
    ChangeState,
    StateInfo,
    SyncState,
    SyncStateStore,
    Verdict,
)

__all__ = [
    "ChangeState",
    "KeySpec",
    "MissingKeyError",
    "ObjectStorageCheckpoint",
    "RecordDigester",
    "RecordDigests",
    "StateInfo",
    "SyncState",
    "SyncStateConflictError",
    "SyncStateCorruptError",
    "SyncStateError",
    "SyncStateStore",
    "Verdict",
    "default_state_path",
    "key_spec_for",
    "record_digests",
]
