"""Order activity → wait until Drip has processed it → report.

Drip's v3 shopper activity endpoints answer ``202 Accepted`` with one request id per record and
process them in the background. ``DripRequestStatusSensor`` waits for those ids on the triggerer
(``deferrable=True``: no worker slot is held while Drip works) and fails, naming the records and
Drip's errors, if any of them failed. Only then does the downstream task run.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import ObjectStoragePath, dag, task

from airflow_provider_drip.operators.drip import DripShopperActivityOperator
from airflow_provider_drip.sensors.drip import DripRequestStatusSensor

DATA = ObjectStoragePath(
    os.environ.get("DRIP_EXAMPLE_DATA_URI", f"file://{Path(__file__).parent / 'data'}")
)


@dag(
    dag_id="drip_shopper_orders",
    description="Send order activity to Drip and wait until Drip has processed it",
    schedule="*/30 * * * *",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["drip", "example"],
)
def drip_shopper_orders() -> None:
    send_orders = DripShopperActivityOperator(
        task_id="send_orders",
        activity="order",
        drip_conn_id="drip_default",
        source=DATA / "orders.jsonl",
    )

    wait_processed = DripRequestStatusSensor(
        task_id="wait_until_processed",
        drip_conn_id="drip_default",
        request_ids=send_orders.output,  # the operator's summary dict; its request_ids are used
        deferrable=True,
        poke_interval=5,
        timeout=timedelta(hours=1).total_seconds(),
    )

    @task
    def report(sent: dict[str, Any], processed: dict[str, Any]) -> None:
        print(
            f"Drip accepted {sent['records_sent']} order(s) in {sent['batches_sent']} request(s) "
            f"and has processed {processed['completed']} of {processed['total']}"
        )

    report(send_orders.output, wait_processed.output)


drip_shopper_orders()
