"""The compatibility DAG: every operator once, the sensor, and two deferrals, in one run.

``airflow dags test compat_matrix`` runs it under the oldest Airflow the provider declares
(``make test-compat``). The shopper-activity task runs first and sends more batches than the
emulator's window allows, so it meets a 429 whose Retry-After (a whole window, the window being
anchored at its first request) is long enough to defer (the standard provider's
``DateTimeTrigger``); the sensor then defers on the provider's own trigger until Drip has
processed every request id, and the upsert runs last, in the next window.
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import dag, task

from airflow_provider_drip.operators.drip import (
    DripBatchUpsertOperator,
    DripShopperActivityOperator,
)
from airflow_provider_drip.sensors.drip import DripRequestStatusSensor

ORDERS = int(os.environ.get("COMPAT_ORDERS", "6"))
BATCH_SIZE = int(os.environ.get("COMPAT_BATCH_SIZE", "2"))
SUBSCRIBERS = [
    {"email": "ada@example.com", "first_name": "Ada"},
    {"email": "grace@example.com", "first_name": "Grace"},
    {"email": "not-an-email"},
]


@dag(
    dag_id="compat_matrix",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["drip", "compat"],
)
def compat_matrix() -> None:
    @task
    def make_orders() -> list[dict[str, Any]]:
        return [
            {
                "provider": "compat_store",
                "email": f"buyer{i}@example.com",
                "action": "placed",
                "order_id": f"C-{i:04d}",
                "grand_total": 10.0 + i,
            }
            for i in range(ORDERS)
        ]

    upsert = DripBatchUpsertOperator(
        task_id="upsert_subscribers",
        resource="subscribers",
        records=SUBSCRIBERS,
        on_invalid="skip",
        rejects_path=os.environ["COMPAT_REJECTS"],
    )
    orders = DripShopperActivityOperator(
        task_id="order_activity",
        activity="order",
        records=make_orders(),
        batch_size=BATCH_SIZE,
        deferrable=True,
    )
    processed = DripRequestStatusSensor(
        task_id="wait_processed",
        request_ids=orders.output,
        deferrable=True,
        poke_interval=1,
        timeout=120,
    )
    orders >> processed >> upsert


compat_matrix()
