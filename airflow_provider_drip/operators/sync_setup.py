"""Turn an operator's parameters and Airflow context into the sync's parts.

Kept out of the operator class so it stays a thin translation layer: where the cursor lives,
whether changed mode is on and against which state, and the link to the account.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_drip.exceptions import DripConfigError
from airflow_provider_drip.resources import BatchResource
from airflow_provider_drip.state import (
    ObjectStorageCheckpoint,
    PayloadDigester,
    SyncStateStore,
    default_state_path,
    key_spec_for,
)
from airflow_provider_drip.sync.changes import SYNC_MODES, ChangeTracker
from airflow_provider_drip.sync.checkpoint import CheckpointStore, TaskStateCheckpoint

log = logging.getLogger(__name__)

DRIP_APP_URL = "https://www.getdrip.com"
DRIP_API_HOST = "api.getdrip.com"

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off", "", "none")


def check_sync_mode(sync_mode: str, key_fields: Sequence[str] | str | None, task_id: str) -> None:
    if sync_mode not in SYNC_MODES:
        raise DripConfigError(
            f"{task_id}: sync_mode must be one of {SYNC_MODES}, got {sync_mode!r}"
        )
    if key_fields is not None:
        try:
            key_spec_for("subscribers", key_fields)
        except ValueError as err:
            raise DripConfigError(f"{task_id}: {err}") from None


def as_bool(value: Any, name: str) -> bool:
    """A templated flag: a bool, or the text a template renders (``"True"``, ``"false"``)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise DripConfigError(f"{name} must be true or false, got {value!r}")


def default_state_key(context: Mapping[str, Any]) -> str:
    ti = context["ti"]
    return f"{ti.dag_id}.{ti.task_id}"


def run_scope(context: Mapping[str, Any]) -> str:
    """Names one task instance: the durable cursor belongs to it, not to the DAG."""
    ti = context["ti"]
    map_index = getattr(ti, "map_index", -1)
    suffix = f".{map_index}" if map_index is not None and map_index >= 0 else ""
    return f"{ti.dag_id}.{ti.task_id}{suffix}.{ti.run_id}"


def choose_checkpoint(
    context: Mapping[str, Any],
    key: str,
    *,
    state_path: Any,
    account_id: str,
    resource: BatchResource,
) -> CheckpointStore:
    """The cursor's home: the task state store (Airflow 3.3), else the shared state path.

    The state path outlives a killed worker, so a crashed try resumes instead of starting over
    on Airflow versions without a task state store.
    """
    store = None
    try:
        store = context.get("task_state_store")
    except Exception:  # an old Context without the key
        store = None
    if store is not None:
        return TaskStateCheckpoint(store, key)
    base = state_path or default_state_path()
    log.info(
        "task_state_store is not available (Airflow < 3.3): the sync cursor is kept under %s",
        base,
    )
    return ObjectStorageCheckpoint(base, account_id, resource.name, f"{run_scope(context)}.{key}")


def open_change_tracker(
    *,
    state_path: Any,
    account_id: str,
    resource: BatchResource,
    state_key: str,
    key_fields: Sequence[str] | str | None,
    full_refresh: bool,
    resumed: bool,
) -> ChangeTracker:
    """The sync state of this account, resource and state key, ready to classify records.

    A full refresh empties the state on its first try only; a resumed try of the same run keeps
    what the earlier tries committed and still sends everything.
    """
    base = state_path or default_state_path()
    digester = PayloadDigester(key_spec_for(resource, key_fields))
    state = SyncStateStore.open(
        base,
        account_id,
        resource.name,
        state_key,
        key_spec=digester.spec,
        full_refresh=full_refresh and not resumed,
    )
    log.info(
        "Changed mode: %s keys known in %s (key: %s)%s",
        f"{state.count:,}",
        state.path,
        digester.spec.describe(),
        "; full refresh: sending every record and rebuilding the state" if full_refresh else "",
    )
    return ChangeTracker(state, digester, send_all=full_refresh)


def account_url(base_url: str, account_id: str) -> str:
    """Drip's web app for the real API; the base URL itself for a local emulator."""
    host = urlsplit(base_url).hostname or ""
    if host == DRIP_API_HOST or host.endswith(".getdrip.com"):
        return f"{DRIP_APP_URL}/{account_id}/"
    return f"{base_url.rstrip('/')}/"
