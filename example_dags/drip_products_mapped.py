"""Product catalogue sync: one mapped task per export file (dynamic task mapping).

The catalogue arrives as several files in mixed formats (JSON Lines, CSV, JSON). ``list_files``
finds them when the DAG runs, and ``.partial(...).expand(source=...)`` creates one
``DripShopperActivityOperator`` task per file, each with its own retries and resume cursor. The
mapped tasks share the account's rate limit: give them an Airflow pool per Drip account (see
docs/operators.md) so they do not race each other for it.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import ObjectStoragePath, dag, task

from airflow_provider_drip.operators.drip import DripShopperActivityOperator

DATA = ObjectStoragePath(
    os.environ.get("DRIP_EXAMPLE_DATA_URI", f"file://{Path(__file__).parent / 'data'}")
)
PRODUCT_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet", ".gz")


@dag(
    dag_id="drip_products_mapped",
    description="Sync every product export file to Drip, one mapped task per file",
    schedule="@daily",
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["drip", "example"],
)
def drip_products_mapped() -> None:
    @task
    def list_files() -> list[str]:
        files = sorted(
            str(path)
            for path in (DATA / "products").iterdir()
            if path.is_file() and path.name.endswith(PRODUCT_SUFFIXES)
        )
        print(f"{len(files)} product file(s): {files}")
        return files

    sync_products = DripShopperActivityOperator.partial(
        task_id="sync_products",
        activity="product",
        drip_conn_id="drip_default",
        list_delimiter="|",  # the CSV export joins categories with "|"
    ).expand(source=list_files())

    @task
    def report(summaries: list[dict[str, Any]]) -> None:
        summaries = list(summaries)
        total = sum(s["records_sent"] for s in summaries)
        print(f"{len(summaries)} file(s) synced, {total} product(s) accepted by Drip")

    report(sync_products.output)


drip_products_mapped()
