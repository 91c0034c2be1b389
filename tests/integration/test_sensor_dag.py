"""The sensor inside a real DAG run (``dag.test()``): XComArg input, reschedule, deferral.

``dag.test()`` runs every task through Airflow's task runner against a throw-away SQLite metadata
DB, so this exercises what the direct-call tests cannot: ``request_ids=orders.output`` resolved
from a real XCom, reschedule-mode pokes on fresh operator instances with progress kept in the
real ``task_state_store``, and the trigger run by Airflow itself with its connection loaded by
``BaseHook.aget_connection``. A real scheduler + triggerer is the example-DAG e2e tests' job.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# ~30-45 s (a SQLite migration plus one dag.test run): also marked e2e; `-m "not e2e"` skips it.
pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.timeout(180)]

REPO_ROOT = Path(__file__).resolve().parents[2]

DAG_FILE = textwrap.dedent(
    """
    import json
    from datetime import datetime

    from airflow.sdk import DAG, task

    from airflow_provider_drip.operators.drip import DripShopperActivityOperator
    from airflow_provider_drip.sensors.drip import DripRequestStatusSensor
    from tests.integration.samples import make_records

    with DAG("drip_status_sensor_test", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        orders_a = DripShopperActivityOperator(
            task_id="orders_a", activity="order", records=make_records("order", 5)
        )
        orders_b = DripShopperActivityOperator(
            task_id="orders_b", activity="order", records=make_records("order", 5, start=5)
        )
        rescheduled = DripRequestStatusSensor(
            task_id="wait_reschedule", request_ids=orders_a.output, mode="reschedule",
            poke_interval=0.1, timeout=60, probe_window=2,
        )
        deferred = DripRequestStatusSensor(
            task_id="wait_deferred", request_ids=orders_b.output, deferrable=True,
            poke_interval=0.1, timeout=60, probe_window=2,
        )

        @task
        def report(a, b, ids_a, ids_b):
            print("SUMMARIES " + json.dumps({"a": a, "b": b, "ids": ids_a["request_ids"]
                                             + ids_b["request_ids"]}))

        report(rescheduled.output, deferred.output, orders_a.output, orders_b.output)

    if __name__ == "__main__":
        run = dag.test()
        print("RUN_STATE " + str(run.state))
    """
)


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("airflow_home")
    (home / "dags").mkdir()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "PYTHONPATH": str(REPO_ROOT),
    }
    airflow = str(Path(sys.executable).parent / "airflow")
    subprocess.run(
        [airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=120
    )
    return env


def test_xcomarg_reschedule_and_deferral_in_a_real_dag_run(airflow_home, drip_emulator):
    drip_emulator.control.configure(status_polls=1, rate_limit=0)
    dag_file = Path(airflow_home["AIRFLOW__CORE__DAGS_FOLDER"]) / "drip_status_sensor_test.py"
    dag_file.write_text(DAG_FILE)
    env = {**airflow_home, "AIRFLOW_CONN_DRIP_DEFAULT": drip_emulator.airflow_conn_json()}
    proc = subprocess.run(
        [sys.executable, str(dag_file)],
        env=env,
        cwd=str(REPO_ROOT),
        capture_output=True,
        text=True,
        timeout=150,
    )
    out = proc.stdout + proc.stderr
    assert "RUN_STATE success" in out, out[-5000:]
    line = next(x for x in out.splitlines() if "SUMMARIES " in x)
    summaries = json.loads(line.split("SUMMARIES ", 1)[1])
    for key in ("a", "b"):
        assert summaries[key]["total"] == summaries[key]["completed"] == 5
        assert summaries[key]["failed_requests"] == []
    assert len(set(summaries["ids"])) == 10
    # Reschedule mode: every poke is a fresh operator; the task state store carried progress.
    assert "Resuming: 2 of 5 Drip request id(s) already seen completed" in out
    assert "Resuming: 4 of 5 Drip request id(s) already seen completed" in out
    assert "Rescheduling task" in out
    # status_polls=1, probe_window=2: ids 1-2 queued | 1-2 done, 3-4 queued | 3-4 done, 5 queued |
    # 5 done -> 10 checks per sensor. Re-checking completed ids would cost more.
    assert drip_emulator.control.stats()["status_counts"].get("200") == 20
    assert drip_emulator.token not in out
