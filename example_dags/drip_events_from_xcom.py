"""Custom events built by an upstream TaskFlow task and handed over through XCom.

``extract`` turns raw product analytics (here a small JSON file shipped beside the DAG) into Drip
events; the operator takes them with ``records=extract_events()`` — an XComArg, so the list is
pulled when the task runs rather than rendered into the DAG. A last task prints the summary the
operator returns.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import ObjectStoragePath, dag, task

from airflow_provider_drip.operators.drip import DripBatchUpsertOperator

DATA = ObjectStoragePath(
    os.environ.get("DRIP_EXAMPLE_DATA_URI", f"file://{Path(__file__).parent / 'data'}")
)


@dag(
    dag_id="drip_events_from_xcom",
    description="Send app activity to Drip as custom events, records passed through XCom",
    schedule="@hourly",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["drip", "example"],
)
def drip_events_from_xcom() -> None:
    @task
    def extract_events() -> list[dict[str, Any]]:
        """Shape raw analytics rows into Drip events (email, action, occurred_at, properties)."""
        rows = json.loads((DATA / "app_activity.json").read_text())
        events = []
        known = ("user_email", "event", "at", "value_cents")
        for row in rows:
            properties = {k: v for k, v in row.items() if k not in known}
            if "value_cents" in row:
                properties["value"] = row["value_cents"]  # Drip's conversion value, in cents
            events.append(
                {
                    "email": row["user_email"],
                    "action": row["event"],
                    "occurred_at": row["at"],
                    "properties": properties,
                }
            )
        return events

    send = DripBatchUpsertOperator(
        task_id="send_events",
        resource="events",
        drip_conn_id="drip_default",
        records=extract_events(),
    )

    @task
    def report(summary: dict[str, Any]) -> None:
        print(
            f"Drip accepted {summary['records_sent']} event(s) in {summary['batches_sent']} "
            f"request(s); {summary['records_rejected']} rejected"
        )

    report(send.output)


drip_events_from_xcom()
