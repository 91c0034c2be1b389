"""A minimal Airflow task context for running operators' ``execute`` directly in tests.

Only the surface the Drip operators touch: ``task_state_store`` (get/set/delete, kept across
calls to stand for retries), ``ti.xcom_push`` and ``outlet_events``. The operators, the sync loop,
the hook and the emulator are all real; Airflow's own machinery is exercised by the e2e tests.
"""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any

from airflow.sdk.exceptions import TaskDeferred


class TaskStateStore:
    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.writes = 0

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.writes += 1
        self.data[key] = value

    def delete(self, key: str) -> None:
        self.data.pop(key, None)


class _Outlet:
    def __init__(self) -> None:
        self.extra: dict[str, Any] = {}


class TaskInstance:
    def __init__(self, run_id: str = "manual__test") -> None:
        self.xcom: dict[str, Any] = {}
        self.dag_id = "test_dag"
        self.task_id = "test_task"
        self.run_id = run_id
        self.map_index = -1

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def make_context(
    store: TaskStateStore | None = None, run_id: str = "manual__test"
) -> dict[str, Any]:
    """A new ``run_id`` with a new store stands for a new DAG run."""
    return {
        "task_state_store": store if store is not None else TaskStateStore(),
        "ti": TaskInstance(run_id),
        "outlet_events": defaultdict(_Outlet),
    }


def run_with_deferrals(operator: Any, context: dict[str, Any], max_deferrals: int = 50) -> tuple:
    """Run ``execute``; on each deferral wait until the trigger's moment and call the resume
    method, as Airflow's triggerer would. Returns (summary, deferrals)."""
    deferrals = 0
    call = operator.execute
    args: tuple = (context,)
    while True:
        try:
            return call(*args), deferrals
        except TaskDeferred as deferred:
            deferrals += 1
            assert deferrals <= max_deferrals, "too many deferrals"
            moment = deferred.trigger.serialize()[1]["moment"]
            if isinstance(moment, str):
                moment = datetime.fromisoformat(moment)
            time.sleep(max(0.0, (moment - datetime.now(timezone.utc)).total_seconds()))
            call = getattr(operator, deferred.method_name)
            args = (context, None)
