"""Where a state lives: ``<state_path>/<account_id>/<resource>/<state_key>.state``.

Names come from users (DAG and task ids, templated keys), so each becomes one safe path
segment: characters outside ``[A-Za-z0-9._-]`` turn into ``_`` and, when anything was changed,
a short hash of the original is appended so two different names never share a state. Long
names are cut the same way.
"""

from __future__ import annotations

import hashlib
import os
import re

from airflow.sdk import ObjectStoragePath

from airflow_provider_drip.state.storage import as_storage_path

STATE_SUFFIX = ".state"
CURSOR_SUFFIX = ".cursor"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_MAX_SEGMENT = 80
"""Longer names are cut and hashed: file names over 255 bytes fail on most filesystems."""


def safe_segment(name: str) -> str:
    """``name`` as one path segment that cannot escape its folder."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"a state path name must be a non-empty string, got {name!r}")
    cleaned = _UNSAFE.sub("_", name)
    if cleaned.strip(".") == "":
        cleaned = cleaned.replace(".", "_")
    if cleaned != name or len(cleaned) > _MAX_SEGMENT:
        digest = hashlib.blake2b(name.encode("utf-8", "surrogatepass"), digest_size=4).hexdigest()
        cleaned = f"{cleaned[:_MAX_SEGMENT]}-{digest}"
    return cleaned


def state_dir(
    state_path: str | os.PathLike[str] | ObjectStoragePath, account_id: str, resource: str
) -> ObjectStoragePath:
    base = as_storage_path(state_path)
    return base / safe_segment(str(account_id)) / safe_segment(resource)


def state_file(
    state_path: str | os.PathLike[str] | ObjectStoragePath,
    account_id: str,
    resource: str,
    state_key: str,
) -> ObjectStoragePath:
    return state_dir(state_path, account_id, resource) / (safe_segment(state_key) + STATE_SUFFIX)


def cursor_dir(
    state_path: str | os.PathLike[str] | ObjectStoragePath,
    account_id: str,
    resource: str,
    state_key: str,
) -> ObjectStoragePath:
    return state_dir(state_path, account_id, resource) / (safe_segment(state_key) + CURSOR_SUFFIX)


def _conf_get(section: str, key: str) -> str | None:
    try:
        from airflow.sdk import conf  # Airflow 3.1+
    except ImportError:  # older minors
        from airflow.configuration import conf  # type: ignore[no-redef]
    value = conf.get(section, key, fallback=None)
    return value or None


def default_state_path() -> str:
    """``[drip] state_path`` from Airflow's config, else ``$AIRFLOW_HOME/drip_state``.

    The fallback is right for one machine only: with the Celery or Kubernetes executors point
    ``[drip] state_path`` at shared object storage (``s3://...``), or workers will each keep
    their own state.
    """
    configured = _conf_get("drip", "state_path")
    if configured:
        return configured
    home = os.environ.get("AIRFLOW_HOME") or os.path.join(os.path.expanduser("~"), "airflow")
    return os.path.join(home, "drip_state")
