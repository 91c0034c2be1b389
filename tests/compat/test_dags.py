"""The compatibility DAG under ``airflow dags test`` against the emulator, on whichever Airflow
runs the tests (``make test-compat`` runs them on the oldest declared minor).

Both operators, the sensor and two deferrals (the operator on a rate limit through the standard
provider's ``DateTimeTrigger``, the sensor on the provider's own trigger) in one DAG run; the
Airflow home, the emulator and the ``dags test`` runner are the e2e suite's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.airflow_env import AirflowEnv, DagsTestResult, Emulator

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

DAG_ID = "compat_matrix"
DAGS = Path(__file__).resolve().parent / "dags"
ORDERS, BATCH_SIZE = 6, 2
RATE_LIMIT = 2
"""Batch requests per window: two of the three order batches, then the third and the upsert."""
RATE_WINDOW = 24
"""Seconds: the third order batch waits ~24 s, over the operator's 15 s defer threshold even if
the first two batches took seconds."""
STATUS_SECONDS = 8
"""Drip takes this long per request id, so the sensor finds the last batch queued and defers."""


@dataclass
class CompatRun:
    env: AirflowEnv
    result: DagsTestResult
    stats: dict[str, Any]
    returns: dict[tuple[str, int], Any]
    rejects: Path

    def describe(self) -> str:
        run_id = self.env.latest_run_id(DAG_ID) or "?"
        return self.env.describe_run(DAG_ID, run_id) + "\n" + self.result.output[-4000:]


@pytest.fixture(scope="module")
def compat_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CompatRun]:
    workdir = tmp_path_factory.mktemp("compat")
    rejects = workdir / "subscribers.rejects.jsonl"
    emulator_args = (
        *("--rate-limit", str(RATE_LIMIT), "--rate-window", str(RATE_WINDOW), "--retry-after"),
        *("--status-seconds", str(STATUS_SECONDS)),
    )
    with Emulator(*emulator_args, log_path=workdir / "emulator.log") as emulator:
        env = AirflowEnv(
            workdir / "airflow",
            DAGS,
            extra_env={
                "AIRFLOW_CONN_DRIP_DEFAULT": emulator.connection_json(),
                "COMPAT_REJECTS": f"file://{rejects}",
                "COMPAT_ORDERS": str(ORDERS),
                "COMPAT_BATCH_SIZE": str(BATCH_SIZE),
            },
        )
        try:
            env.migrate()
            result = env.dags_test_many([DAG_ID], timeout=300)[DAG_ID]
            run_id = env.latest_run_id(DAG_ID)
            returns = env.xcom_returns(DAG_ID, run_id) if run_id else {}
            yield CompatRun(env, result, emulator.stats(), returns, rejects)
        finally:
            env.stop()


def test_run_succeeds(compat_run: CompatRun) -> None:
    env = compat_run.env
    assert compat_run.result.returncode == 0, compat_run.describe()
    run_id = env.latest_run_id(DAG_ID)
    assert run_id and env.run_state(DAG_ID, run_id) == "success", compat_run.describe()
    states = {ti["task_id"]: ti["state"] for ti in env.task_instances(DAG_ID, run_id)}
    assert states == dict.fromkeys(
        ("make_orders", "upsert_subscribers", "order_activity", "wait_processed"), "success"
    ), compat_run.describe()


def test_upsert_operator_sent_valid_records_and_set_the_invalid_one_aside(
    compat_run: CompatRun,
) -> None:
    summary = compat_run.returns[("upsert_subscribers", -1)]
    assert (summary["records_sent"], summary["records_rejected"]) == (2, 1), summary
    got = compat_run.stats["resources"]["subscribers"]
    assert (got["records_accepted"], got["requests_accepted"]) == (2, 1), got
    (reject,) = compat_run.rejects.read_text().splitlines()
    assert "not-an-email" in reject


def test_shopper_activity_operator_deferred_on_the_rate_limit_and_sent_once(
    compat_run: CompatRun,
) -> None:
    summary = compat_run.returns[("order_activity", -1)]
    assert summary["deferrals"] >= 1, summary
    assert summary["records_sent"] == ORDERS and summary["batches_sent"] == ORDERS // BATCH_SIZE
    assert len(summary["request_ids"]) == ORDERS
    got = compat_run.stats["resources"]["order"]
    assert got["records_accepted"] == ORDERS and got["duplicates"] == 0, got
    assert compat_run.stats["errors"]["429"] >= 1


def test_sensor_deferred_and_saw_every_request_completed(compat_run: CompatRun) -> None:
    summary = compat_run.returns[("wait_processed", -1)]
    assert summary.get("completed") == ORDERS, summary
    output = compat_run.result.output
    assert output.count("running trigger in line") == 2, "the operator and the sensor defer once"
    assert "DripRequestStatusTrigger" in output, "the sensor never deferred"
