"""E2E-only DAGs run by a real scheduler + triggerer against a rate-limited emulator.

``e2e_rate_limited_deferral``: order activity that needs more requests than the emulator's
window allows, sent with ``deferrable=True`` (the task must defer on the rate limit and resume),
then a deferrable ``DripRequestStatusSensor`` on the returned request ids.

``e2e_crash_retry``: events (not idempotent: a resend would duplicate them) sent with
``deferrable=False``, so the task sleeps on the rate limit in its worker; the test SIGKILLs it
there. ``on_execute_callback`` writes the task process's pid to ``$E2E_STATE_DIR`` so the test
knows which process to kill. With ``retries=1`` Airflow retries it, and the retry must resume
from the saved cursor.

Sizes come from the environment the test gives the Airflow services (``E2E_RECORDS``,
``E2E_BATCH_SIZE``) so the test and the DAGs agree without importing each other.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import dag, task
from e2e_pids import write_pid

from airflow_provider_drip.operators.drip import (
    DripBatchUpsertOperator,
    DripShopperActivityOperator,
)
from airflow_provider_drip.sensors.drip import DripRequestStatusSensor

RECORDS = int(os.environ.get("E2E_RECORDS", "60"))
BATCH_SIZE = int(os.environ.get("E2E_BATCH_SIZE", "10"))
START = pendulum.datetime(2024, 1, 1, tz="UTC")


@dag(
    dag_id="e2e_rate_limited_deferral",
    schedule=None,
    start_date=START,
    catchup=False,
    tags=["drip", "e2e"],
)
def e2e_rate_limited_deferral() -> None:
    @task
    def make_orders() -> list[dict[str, Any]]:
        return [
            {
                "provider": "e2e_store",
                "email": f"buyer{i}@example.com",
                "action": "placed",
                "order_id": f"E2E-{i:05d}",
                "grand_total": 10.0 + i,
                "items": [{"name": "Widget", "price": 10.0 + i, "quantity": 1}],
            }
            for i in range(RECORDS)
        ]

    send = DripShopperActivityOperator(
        task_id="send_orders",
        activity="order",
        records=make_orders(),
        batch_size=BATCH_SIZE,
        deferrable=True,
    )
    DripRequestStatusSensor(
        task_id="wait_processed",
        request_ids=send.output,
        deferrable=True,
        poke_interval=2,
        timeout=300,
    )


@dag(
    dag_id="e2e_crash_retry",
    schedule=None,
    start_date=START,
    catchup=False,
    tags=["drip", "e2e"],
)
def e2e_crash_retry() -> None:
    @task
    def make_events() -> list[dict[str, Any]]:
        return [
            {
                "email": f"user{i}@example.com",
                "action": "E2E crash test",
                "properties": {"n": i},
            }
            for i in range(RECORDS)
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


e2e_rate_limited_deferral()
e2e_crash_retry()
