"""Nightly subscriber sync from a CSV export: only what changed, with a field map and rejects.

``sync_mode="changed"`` remembers what Drip accepted (a 16-byte digest pair per subscriber) and
sends only new and changed rows: after the first night, a 2,000,000-row export costs as many
batch requests as it has changed rows, not 2,000 of Drip's 50 per hour. The state lives under
``[drip] state_path`` (else ``$AIRFLOW_HOME/drip_state``): with several workers (Celery,
Kubernetes) point it at shared object storage, e.g. ``s3://my-bucket/drip-state``
(``DRIP_EXAMPLE_STATE_URI`` here). Trigger with ``{"full_refresh": true}`` to resend everything.

The CRM drops ``subscribers.csv`` somewhere an ``ObjectStoragePath`` can read (a local folder
here; ``s3://``, ``gs://``... in production). Column names are mapped to Drip fields: dotted
targets nest (``custom_fields.shirt_size``), and the pipe-delimited "Segments" cell becomes
Drip ``tags``. Rows Drip would refuse (a malformed email, no email at all) are set aside in a
JSON Lines rejects file instead of failing the night's load or burning a request on a 422.

Point it at your own data with the ``DRIP_EXAMPLE_DATA_URI`` environment variable (a folder URI,
e.g. ``s3://my-bucket/drip``; give the path a ``conn_id`` for credentials) and at your own
rejects folder with ``DRIP_EXAMPLE_REJECTS_URI``.
"""

from __future__ import annotations

import os
import tempfile
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import DAG, ObjectStoragePath

from airflow_provider_drip.operators.drip import DripBatchUpsertOperator

DATA = ObjectStoragePath(
    os.environ.get("DRIP_EXAMPLE_DATA_URI", f"file://{Path(__file__).parent / 'data'}")
)
STATE = os.environ.get("DRIP_EXAMPLE_STATE_URI")  # None: [drip] state_path or AIRFLOW_HOME
REJECTS = os.environ.get(
    "DRIP_EXAMPLE_REJECTS_URI", f"file://{Path(tempfile.gettempdir()) / 'drip-rejects'}"
)

with DAG(
    dag_id="drip_subscribers_nightly",
    description="Upsert subscribers from the nightly CRM export (CSV) into Drip",
    schedule="0 2 * * *",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["drip", "example"],
) as dag:
    DripBatchUpsertOperator(
        task_id="upsert_subscribers",
        resource="subscribers",
        drip_conn_id="drip_default",
        source=DATA / "subscribers.csv",
        field_map={
            "Email": "email",
            "First Name": "first_name",
            "Last Name": "last_name",
            "Shirt Size": "custom_fields.shirt_size",
            "Plan": "custom_fields.plan",
            "Segments": "tags",
            "SMS": "sms_number",
            "Lifetime Value (cents)": "lifetime_value",
        },
        keep_unmapped=False,
        list_delimiter="|",
        on_invalid="skip",
        sync_mode="changed",
        state_path=STATE,
        full_refresh="{{ (dag_run.conf or {}).get('full_refresh', False) }}",
        rejects_path=REJECTS
        + "/subscribers-{{ dag_run.run_after.strftime('%Y%m%dT%H%M%S') }}.rejects.jsonl",
    )
