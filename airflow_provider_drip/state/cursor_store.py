"""The sync cursor in shared storage, for Airflow without ``task_state_store`` (before 3.3).

Implements ``sync.checkpoint.CheckpointStore`` with one JSON object per value under
``<state_path>/<account_id>/<resource>/<state_key>.cursor/``: ``cursor.json`` for the cursor
and ``parts/<name>.json`` for named parts (e.g. request ids per batch). Each write replaces its
object atomically, so a try killed mid-save leaves the previous cursor, never half of one.
Unlike the task state store it outlives the task instance: the sync clears it when it finishes.
"""

from __future__ import annotations

import json
from typing import Any

from airflow.sdk import ObjectStoragePath

from airflow_provider_drip.state import storage
from airflow_provider_drip.state.errors import SyncStateCorruptError
from airflow_provider_drip.state.paths import cursor_dir, safe_segment
from airflow_provider_drip.state.store import StatePathLike

CURSOR_NAME = "cursor.json"
PARTS_DIR = "parts"


class ObjectStorageCheckpoint:
    """A ``CheckpointStore`` kept as JSON objects beside the sync state."""

    def __init__(
        self, state_path: StatePathLike, account_id: str, resource: str, state_key: str
    ) -> None:
        self.folder = cursor_dir(state_path, str(account_id), resource, state_key)

    def __repr__(self) -> str:
        return f"ObjectStorageCheckpoint({str(self.folder)!r})"

    def _part(self, name: str) -> ObjectStoragePath:
        return self.folder / PARTS_DIR / (safe_segment(name) + ".json")

    def load(self) -> dict[str, Any] | None:
        value = _read_json(self.folder / CURSOR_NAME)
        return value if isinstance(value, dict) else None

    def save(self, value: dict[str, Any]) -> None:
        _write_json(self.folder / CURSOR_NAME, value)

    def clear(self) -> None:
        storage.remove(self.folder / CURSOR_NAME)

    def load_part(self, name: str) -> Any:
        return _read_json(self._part(name))

    def save_part(self, name: str, value: Any) -> None:
        _write_json(self._part(name), value)

    def clear_part(self, name: str) -> None:
        storage.remove(self._part(name))

    def clear_all(self) -> int:
        """Remove the cursor and every part; returns how many objects were removed."""
        removed = 0
        parts = self.folder / PARTS_DIR
        if storage.exists(parts):
            for child in list(parts.iterdir()):
                removed += storage.remove(child)
        removed += storage.remove(self.folder / CURSOR_NAME)
        return removed


def _read_json(path: ObjectStoragePath) -> Any:
    try:
        with storage.open_read(path) as f:
            data = f.read()
    except FileNotFoundError:
        return None
    try:
        return json.loads(data)
    except ValueError as exc:
        raise SyncStateCorruptError(
            f"Sync cursor {path} is not valid JSON ({exc}); remove it to start over",
            str(path),
        ) from exc


def _write_json(path: ObjectStoragePath, value: Any) -> None:
    data = json.dumps(value, separators=(",", ":"), allow_nan=False).encode()
    storage.write_atomic(path, [data])
