"""The one place for Airflow names that moved between the minors this provider supports.

Airflow 3.1 (task SDK 1.1) lacks ``airflow.sdk.conf`` (core's ``airflow.configuration.conf``
reads the same config there) and has ``AirflowFailException`` only in ``airflow.exceptions``,
where 3.3 warns that it is deprecated. Import these names from here: each is taken from its
newest location first, so a module never fails to import on an older minor and never warns on
a newer one (tests/compat imports every module with warnings as errors).

Not a name but a difference all the same: ``context["task_state_store"]`` exists from 3.3 only.
Its readers (``sync.checkpoint``, the sensor) use ``context.get`` and fall back to the sync
state store or memory, so nothing here stands in for it.
"""

from __future__ import annotations

try:
    from airflow.sdk import conf
except ImportError:  # Airflow 3.1 (task SDK 1.1)
    from airflow.configuration import conf  # type: ignore[no-redef]

try:
    from airflow.sdk.exceptions import AirflowFailException
except ImportError:  # Airflow 3.1
    from airflow.exceptions import AirflowFailException  # type: ignore[no-redef,attr-defined]

try:
    from airflow.sdk.log import mask_secret
except ImportError:  # Airflow 3.0
    from airflow.sdk.execution_time.secrets_masker import mask_secret  # type: ignore[no-redef]

__all__ = ["AirflowFailException", "conf", "mask_secret"]
