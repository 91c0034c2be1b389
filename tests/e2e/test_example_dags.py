"""Every example DAG, run by ``airflow dags test`` in a real Airflow against the emulator.

Assertions are on what Drip (the emulator) received — records per resource, no refused batch,
no duplicate, request ids that match — and on the task summaries, not only on the DAG state.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.airflow_env import EXAMPLE_DAG_IDS

if TYPE_CHECKING:
    from tests.e2e.conftest import ExampleRuns

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

# dag id -> (emulator resource, records Drip must have accepted, batch requests)
EXPECTED = {
    "drip_subscribers_nightly": ("subscribers", 8, 1),
    "drip_events_from_xcom": ("events", 8, 1),
    "drip_shopper_orders": ("order", 6, 1),
    "drip_products_mapped": ("product", 10, 3),
    "drip_unsubscribes": ("unsubscribes", 3, 1),
}


def test_expectations_cover_every_example_dag() -> None:
    assert set(EXPECTED) == set(EXAMPLE_DAG_IDS)


@pytest.mark.parametrize("dag_id", EXAMPLE_DAG_IDS)
def test_example_dag_succeeds_and_drip_received_its_records(
    example_runs: ExampleRuns, dag_id: str
) -> None:
    result = example_runs.results[dag_id]
    run_id = example_runs.run_id(dag_id)
    env = example_runs.env
    assert result.returncode == 0, env.describe_run(dag_id, run_id) + result.output[-3000:]
    assert env.run_state(dag_id, run_id) == "success"
    tis = env.task_instances(dag_id, run_id)
    states = {(ti["task_id"], ti["map_index"]): ti["state"] for ti in tis}
    assert states and set(states.values()) == {"success"}, states

    resource, records, requests = EXPECTED[dag_id]
    got = example_runs.stats["resources"][resource]
    assert got["records_accepted"] == records, got
    assert got["requests_accepted"] == requests, got
    assert got["requests_rejected"] == 0, got
    assert got["duplicates"] == 0, got

    summaries = [v for v in example_runs.returns(dag_id).values() if _is_sync_summary(v)]
    sent = [s for s in summaries if not s["dry_run"]]
    assert sum(s["records_sent"] for s in sent) == records
    assert sum(s["batches_sent"] for s in sent) == requests


def test_no_request_was_refused_or_unauthorised(example_runs: ExampleRuns) -> None:
    errors = example_runs.stats["errors"]
    assert errors["422"] == 0 and errors["401"] == 0 and errors["5xx"] == 0, errors
    assert example_runs.stats["duplicates"] == 0
    agents = example_runs.stats["user_agents"]
    assert agents and all(ua.startswith("airflow-provider-drip/") for ua in agents), agents


def test_subscribers_field_map_and_rejects(example_runs: ExampleRuns) -> None:
    stored = {r["email"]: r for r in example_runs.emulator.records("subscribers")}
    ada = stored["ada@example.com"]
    assert ada["custom_fields"] == {"shirt_size": "M", "plan": "pro"}
    assert ada["tags"] == ["vip", "newsletter"]
    assert ada["lifetime_value"] == 125000 and ada["sms_number"] == "+15555550101"
    assert "Shirt Size" not in ada and "Segments" not in ada  # keep_unmapped=False
    assert "tags" not in stored["edsger@example.com"]  # an empty cell sends nothing
    assert "not-an-email" not in stored

    (summary,) = example_runs.returns("drip_subscribers_nightly").values()
    assert summary["records_rejected"] == 2
    rejects = list(example_runs.rejects_dir.glob("subscribers-*.rejects.jsonl"))
    assert len(rejects) == 1 and summary["rejects_path"].endswith(rejects[0].name)
    lines = [json.loads(line) for line in rejects[0].read_text().splitlines()]
    assert [line["record"]["Last Name"] for line in lines] == ["Row", "Email"]
    rules = [{r["rule"] for r in line["reasons"]} for line in lines]
    assert rules == [{"email_format"}, {"one_of_required"}]


def test_events_came_through_xcom(example_runs: ExampleRuns) -> None:
    returns = example_runs.returns("drip_events_from_xcom")
    extracted = returns[("extract_events", -1)]
    stored = example_runs.emulator.records("events")
    assert sorted(map(_canonical, stored)) == sorted(map(_canonical, extracted))
    assert returns[("send_events", -1)]["records_sent"] == len(extracted) == 8


def test_orders_request_ids_were_all_processed(example_runs: ExampleRuns) -> None:
    returns = example_runs.returns("drip_shopper_orders")
    sent = returns[("send_orders", -1)]
    processed = returns[("wait_until_processed", -1)]
    assert len(sent["request_ids"]) == len(set(sent["request_ids"])) == 6
    assert processed["total"] == processed["completed"] == 6 and processed["failed"] == 0
    stats = example_runs.stats
    assert stats["request_ids_issued"] == 6 + 10  # orders + products


def test_products_one_mapped_task_per_file(example_runs: ExampleRuns) -> None:
    returns = example_runs.returns("drip_products_mapped")
    files = returns[("list_files", -1)]
    assert [f.rsplit("/", 1)[-1] for f in files] == [
        "accessories.csv",
        "apparel.jsonl",
        "home.json",
    ]
    mapped = {k[1]: v for k, v in returns.items() if k[0] == "sync_products"}
    assert sorted(mapped) == [0, 1, 2]
    assert [mapped[i]["records_sent"] for i in range(3)] == [3, 4, 3]
    stored = {r["product_variant_id"]: r for r in example_runs.emulator.records("product")}
    assert stored["B01J4SWO1G-CW-BOTT"]["categories"] == ["Accessories", "Drinkware"]
    assert stored["B01J4SWO1G-CW-BOTT"]["price"] == 11.16


def test_unsubscribes_preview_sent_nothing(example_runs: ExampleRuns) -> None:
    returns = example_runs.returns("drip_unsubscribes")
    preview, real = returns[("preview", -1)], returns[("unsubscribe", -1)]
    assert preview["dry_run"] is True and preview["records_sent"] == 0
    assert real["records_sent"] == 3
    emails = sorted(r["email"] for r in example_runs.emulator.records("unsubscribes"))
    assert emails == ["alan@example.com", "donald@example.com", "former.customer@example.com"]
    assert all(set(r) == {"email"} for r in example_runs.emulator.records("unsubscribes"))


def _is_sync_summary(value: Any) -> bool:
    return isinstance(value, dict) and "records_sent" in value and "dry_run" in value


def _canonical(record: Any) -> str:
    return json.dumps(record, sort_keys=True)
