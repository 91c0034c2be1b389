"""Sync state that outlives a run: what Drip accepted per key, and the durable resume cursor.

``digest`` turns payloads (the bytes sent) into 64-bit key and content digests, ``store``
keeps them per account, resource and state key under a ``state_path`` (any
``ObjectStoragePath``), and ``cursor_store`` keeps the sync cursor beside them where Airflow
has no task state store.

Only ``digest`` is imported eagerly: the store needs ``airflow.sdk`` (about 100 MB and seconds
to import), which a process that only computes digests should not pay for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from airflow_provider_drip.state.digest import (
    KeySpec,
    MissingKeyError,
    PayloadDigester,
    RecordDigests,
    key_spec_for,
    payload_of,
    record_digests,
)

if TYPE_CHECKING:
    from airflow_provider_drip.state.cursor_store import ObjectStorageCheckpoint
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

_LAZY = {
    "ObjectStorageCheckpoint": "cursor_store",
    "SyncStateConflictError": "errors",
    "SyncStateCorruptError": "errors",
    "SyncStateError": "errors",
    "default_state_path": "paths",
    "ChangeState": "store",
    "StateInfo": "store",
    "SyncState": "store",
    "SyncStateStore": "store",
    "Verdict": "store",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ChangeState",
    "KeySpec",
    "MissingKeyError",
    "ObjectStorageCheckpoint",
    "PayloadDigester",
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
    "payload_of",
    "record_digests",
]
