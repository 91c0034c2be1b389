"""OpenLineage events of both operators, read back from the OpenLineage provider's file transport
after a real ``airflow dags test`` against the emulator.

One DAG: subscribers from a CSV file with one invalid row (input = the file, outputs = Drip's
``subscribers`` and the rejects file), order activity from literal records (no input), a dry run
(input, no output), and an upsert that fails on an invalid record before sending anything (a
FAIL event still naming Drip).
"""

from __future__ import annotations

import json
import socket
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_drip.emulator.config import DEFAULT_ACCOUNT_ID
from tests.e2e.airflow_env import AirflowEnv, Emulator

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

DAG_ID = "drip_lineage"
DRIP_NAMESPACE = f"drip://{DEFAULT_ACCOUNT_ID}"
LOCAL_NAMESPACE = f"file://{socket.gethostname()}"

DAG_FILE = textwrap.dedent(
    """
    import os

    import pendulum
    from airflow.sdk import DAG

    from airflow_provider_drip.operators.drip import (
        DripBatchUpsertOperator,
        DripShopperActivityOperator,
    )

    with DAG(
        "drip_lineage", schedule=None, start_date=pendulum.datetime(2024, 1, 1), catchup=False
    ):
        from_file = DripBatchUpsertOperator(
            task_id="subscribers_from_file",
            resource="subscribers",
            source=os.environ["LINEAGE_SOURCE"],
            on_invalid="skip",
            rejects_path=os.environ["LINEAGE_REJECTS"],
        )
        from_records = DripShopperActivityOperator(
            task_id="orders_from_records",
            activity="order",
            records=[
                {"provider": "shop", "email": f"b{i}@example.com", "action": "placed",
                 "order_id": f"L-{i}", "grand_total": 5.0}
                for i in range(3)
            ],
            batch_size=2,
        )
        failing = DripBatchUpsertOperator(
            task_id="events_invalid",
            resource="events",
            records=[{"email": "x@example.com"}],
            on_invalid="fail",
        )
        preview = DripBatchUpsertOperator(
            task_id="subscribers_preview",
            resource="subscribers",
            source=os.environ["LINEAGE_SOURCE"],
            on_invalid="skip",
            dry_run=True,
        )
        from_file >> from_records >> preview >> failing
    """
)


@pytest.fixture(scope="module")
def lineage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Every OpenLineage event of one DAG run, by ``(task_id, eventType)``."""
    workdir = tmp_path_factory.mktemp("lineage")
    dags = workdir / "dags"
    dags.mkdir()
    (dags / "drip_lineage.py").write_text(DAG_FILE)
    source = workdir / "subscribers.csv"
    source.write_text("email,first_name\nada@example.com,Ada\nnot-an-email,X\nbo@example.com,Bo\n")
    rejects = workdir / "subscribers.rejects.jsonl"
    events_file = workdir / "openlineage.jsonl"
    transport = {"type": "file", "log_file_path": str(events_file), "append": True}
    with Emulator(log_path=workdir / "emulator.log") as emulator:
        env = AirflowEnv(
            workdir / "airflow",
            dags,
            extra_env={
                "AIRFLOW_CONN_DRIP_DEFAULT": emulator.connection_json(),
                "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport),
                "AIRFLOW__OPENLINEAGE__NAMESPACE": "drip-tests",
                "LINEAGE_SOURCE": str(source),
                "LINEAGE_REJECTS": f"file://{rejects}",
            },
        )
        try:
            env.migrate()
            result = env.dags_test_many([DAG_ID], timeout=240)[DAG_ID]
            assert events_file.exists(), result.output[-4000:]
            events: dict[tuple[str, str], Any] = {}
            for line in events_file.read_text().splitlines():
                event = json.loads(line)
                task = event["job"]["name"].removeprefix(f"{DAG_ID}.")
                events[(task, event["eventType"])] = event
            yield {"events": events, "source": source, "rejects": rejects, "output": result}
        finally:
            env.stop()


def _event(lineage: dict[str, Any], task: str, kind: str) -> dict[str, Any]:
    events = lineage["events"]
    assert (task, kind) in events, f"no {kind} event for {task}: {sorted(events)}"
    return events[(task, kind)]


def _names(datasets: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(d["namespace"], d["name"]) for d in datasets]


def _rows(dataset: dict[str, Any]) -> int | None:
    stats = dataset.get("outputFacets", {}).get("outputStatistics")
    return None if stats is None else stats["rowCount"]


def test_file_source_is_the_input_and_drip_and_rejects_are_the_outputs(lineage) -> None:
    event = _event(lineage, "subscribers_from_file", "COMPLETE")
    assert _names(event["inputs"]) == [(LOCAL_NAMESPACE, str(lineage["source"]))]
    drip, rejects = event["outputs"]
    assert (drip["namespace"], drip["name"], _rows(drip)) == (DRIP_NAMESPACE, "subscribers", 2)
    assert (rejects["namespace"], rejects["name"]) == (LOCAL_NAMESPACE, str(lineage["rejects"]))
    assert _rows(rejects) == 1
    facet = event["run"]["facets"]["drip_sync"]
    assert (facet["batchesSent"], facet["recordsRejected"], facet["requestIdCount"]) == (1, 1, 0)
    assert facet["rateLimitWaits"] == 0 and facet["dryRun"] is False


def test_records_input_has_no_dataset_and_request_ids_are_counted(lineage) -> None:
    event = _event(lineage, "orders_from_records", "COMPLETE")
    assert event["inputs"] == []
    (drip,) = event["outputs"]
    assert (drip["namespace"], drip["name"], _rows(drip)) == (DRIP_NAMESPACE, "order", 3)
    facet = event["run"]["facets"]["drip_sync"]
    assert (facet["batchesSent"], facet["requestIdCount"], facet["recordsRejected"]) == (2, 3, 0)


def test_dry_run_reads_its_source_and_writes_nothing(lineage) -> None:
    event = _event(lineage, "subscribers_preview", "COMPLETE")
    assert _names(event["inputs"]) == [(LOCAL_NAMESPACE, str(lineage["source"]))]
    assert event["outputs"] == []
    facet = event["run"]["facets"]["drip_sync"]
    assert facet["dryRun"] is True and facet["recordsSent"] == 0


def test_failed_sync_still_names_drip_without_statistics(lineage) -> None:
    event = _event(lineage, "events_invalid", "FAIL")
    assert event["inputs"] == []
    (drip,) = event["outputs"]
    assert (drip["namespace"], drip["name"], _rows(drip)) == (DRIP_NAMESPACE, "events", None)
    assert "drip_sync" not in event["run"]["facets"]


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("memory://exports/2024/subscribers.csv", ("memory://exports", "2024/subscribers.csv")),
        ("/data/in/orders.jsonl", (LOCAL_NAMESPACE, "/data/in/orders.jsonl")),
        ("file:///data/in/orders.jsonl", (LOCAL_NAMESPACE, "/data/in/orders.jsonl")),
    ],
)
def test_sources_are_named_by_bucket_and_key_or_host_and_path(
    location: str, expected: tuple[str, str]
) -> None:
    from airflow_provider_drip.operators.lineage import dataset_name

    assert dataset_name(location) == expected


def test_object_storage_path_is_named_like_its_uri() -> None:
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_drip.operators.lineage import dataset_name

    path = ObjectStoragePath("file:///data/in/orders.jsonl")
    assert dataset_name(path) == (LOCAL_NAMESPACE, "/data/in/orders.jsonl")
