"""Unsubscribe people listed in a suppression file, previewed first with a dry run.

The dry run reads, validates and batches the file and logs a sample payload without sending
anything — useful as a first task while wiring up a new source. The second task unsubscribes for
real (Drip answers ``204`` per batch).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import DAG, ObjectStoragePath

from airflow_provider_drip.operators.drip import DripBatchUpsertOperator

DATA = ObjectStoragePath(
    os.environ.get("DRIP_EXAMPLE_DATA_URI", f"file://{Path(__file__).parent / 'data'}")
)

with DAG(
    dag_id="drip_unsubscribes",
    description="Unsubscribe everyone in the suppression list from Drip",
    schedule="30 2 * * *",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["drip", "example"],
) as dag:
    common = {
        "resource": "unsubscribes",
        "drip_conn_id": "drip_default",
        "source": DATA / "unsubscribes.csv",
        "field_map": {"email": "email"},
        "keep_unmapped": False,  # the "reason" column is for humans, not for Drip
    }
    preview = DripBatchUpsertOperator(task_id="preview", dry_run=True, **common)
    unsubscribe = DripBatchUpsertOperator(task_id="unsubscribe", **common)
    preview >> unsubscribe
