"""E2E-only DAGs for what must hold across tries and DAG runs, under a real scheduler.

``e2e_crash_in_flight``: events (not idempotent) in batches of ``E2E_BATCH_SIZE`` with
``retries=1``; the test makes the emulator slow and SIGKILLs the task while a batch is on the
wire. The retry must surface that batch as an unknown outcome, never resend it.

``e2e_changed_subscribers`` (from a JSON Lines export) / ``e2e_changed_events`` (from XCom):
``sync_mode="changed"`` against a state path under ``$E2E_STATE_DIR``; ``dag_run.conf`` says
how many records and which ones changed, so the test can run the same DAG several times with
the data it wants.
"""

from __future__ import annotations

import json
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import dag, get_current_context, task
from e2e_pids import write_pid

from airflow_provider_drip.operators.drip import DripBatchUpsertOperator

BATCH_SIZE = int(os.environ.get("E2E_BATCH_SIZE", "10"))
STATE_PATH = str(Path(os.environ.get("E2E_STATE_DIR", "/tmp")) / "sync-state")
START = pendulum.datetime(2024, 1, 1, tz="UTC")


def _conf() -> dict[str, Any]:
    return dict(get_current_context()["dag_run"].conf or {})


@dag(dag_id="e2e_crash_in_flight", schedule=None, start_date=START, catchup=False)
def e2e_crash_in_flight() -> None:
    @task
    def make_events() -> list[dict[str, Any]]:
        return [
            {"email": f"user{i}@example.com", "action": "In flight", "properties": {"n": i}}
            for i in range(100)
        ]

    DripBatchUpsertOperator(
        task_id="send_events",
        resource="events",
        records=make_events(),
        batch_size=BATCH_SIZE,
        deferrable=False,
        max_rate_limit_wait=120,
        retries=1,
        retry_delay=timedelta(seconds=2),
        on_execute_callback=write_pid,
    )


@dag(dag_id="e2e_changed_subscribers", schedule=None, start_date=START, catchup=False)
def e2e_changed_subscribers() -> None:
    @task
    def export_subscribers() -> str:
        """A JSON Lines export per run, as a CRM job would leave it: unchanged lines are
        recognised by their bytes (the raw-line shortcut) under the real scheduler."""
        conf = _conf()
        changed = set(conf.get("changed", []))
        run_id = re.sub(r"\W", "_", get_current_context()["dag_run"].run_id)
        path = Path(STATE_PATH).parent / "exports" / f"{run_id}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = (
            json.dumps(
                {
                    "email": f"member{i}@example.com",
                    "custom_fields": {"tier": "gold" if i in changed else "silver"},
                }
            )
            for i in range(int(conf.get("count", 50)))
        )
        path.write_text("".join(f"{line}\n" for line in lines))
        return str(path)

    DripBatchUpsertOperator(
        task_id="sync_subscribers",
        resource="subscribers",
        source=export_subscribers(),
        batch_size=BATCH_SIZE,
        sync_mode="changed",
        state_path=STATE_PATH,
        max_rate_limit_wait=120,
    )


@dag(dag_id="e2e_changed_events", schedule=None, start_date=START, catchup=False)
def e2e_changed_events() -> None:
    @task
    def make_events() -> list[dict[str, Any]]:
        return [
            {"email": f"user{i}@example.com", "action": "Changed mode", "properties": {"n": i}}
            for i in range(int(_conf().get("count", 80)))
        ]

    DripBatchUpsertOperator(
        task_id="send_events",
        resource="events",
        records=make_events(),
        batch_size=BATCH_SIZE,
        sync_mode="changed",
        state_path=STATE_PATH,
        deferrable=False,
        max_rate_limit_wait=120,
        on_execute_callback=write_pid,
    )


e2e_crash_in_flight()
e2e_changed_subscribers()
e2e_changed_events()
