"""Deferral and crash recovery under a real Airflow: scheduler, triggerer, DAG processor and API
server (LocalExecutor, SQLite) in a temp ``AIRFLOW_HOME`` on loopback.

The emulator allows 5 batch requests per 30 s window and answers 429 with ``Retry-After``, so a
60-record sync in batches of 10 must wait once for the window to reset. (Windows of 30 s, not a
few seconds: on Airflow 3.3.2 a deferral whose timer fires within ~5 s can make the scheduler
fail the resumed task — see DESIGN.md, "Airflow 3 notes".) Request ids take 12 s to complete, so
the status sensor also has to wait on the triggerer.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.airflow_env import E2E_DAGS, AirflowEnv, Emulator, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

RECORDS = 60
BATCH_SIZE = 10
RATE_LIMIT = 5
RATE_WINDOW = 30
BATCHES = RECORDS // BATCH_SIZE
DEFERRAL_DAG = "e2e_rate_limited_deferral"
CRASH_DAG = "e2e_crash_retry"
IN_FLIGHT_DAG = "e2e_crash_in_flight"
CHANGED_SUBSCRIBERS_DAG = "e2e_changed_subscribers"
CHANGED_EVENTS_DAG = "e2e_changed_events"
ALL_DAGS = (DEFERRAL_DAG, CRASH_DAG, IN_FLIGHT_DAG, CHANGED_SUBSCRIBERS_DAG, CHANGED_EVENTS_DAG)


@dataclass
class LiveAirflow:
    env: AirflowEnv
    emulator: Emulator
    state_dir: Path


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveAirflow]:
    workdir = tmp_path_factory.mktemp("live")
    state_dir = workdir / "state"
    state_dir.mkdir()
    emulator_args = (
        *("--rate-limit", str(RATE_LIMIT), "--rate-window", str(RATE_WINDOW), "--retry-after"),
        *("--status-seconds", "12"),
    )
    with Emulator(*emulator_args, log_path=workdir / "emulator.log") as emulator:
        env = AirflowEnv(
            workdir / "airflow",
            E2E_DAGS,
            extra_env={
                "AIRFLOW_CONN_DRIP_DEFAULT": emulator.connection_json(),
                "E2E_STATE_DIR": str(state_dir),
                "E2E_RECORDS": str(RECORDS),
                "E2E_BATCH_SIZE": str(BATCH_SIZE),
            },
        )
        try:
            env.migrate()
            env.start()
            for dag_id in ALL_DAGS:
                env.wait_for_dag(dag_id)
            yield LiveAirflow(env, emulator, state_dir)
        finally:
            env.stop()
    assert not env.processes(), "Airflow processes survived the teardown"


def test_rate_limited_sync_defers_resumes_and_delivers_exactly_once(live: LiveAirflow) -> None:
    env, emulator = live.env, live.emulator
    emulator.reset()
    run_id = env.trigger(DEFERRAL_DAG)

    # The window allows 5 requests; the 6th gets a 429 with ~30 s to wait: the task must defer
    # (free its worker slot) rather than sleep.
    env.wait_for_task_state(DEFERRAL_DAG, run_id, "send_orders", ["deferred"], timeout=180)
    at_deferral = emulator.stats()
    assert at_deferral["resources"]["order"]["requests_accepted"] == RATE_LIMIT
    assert at_deferral["errors"]["429"] >= 1

    # Request ids need 12 s before Drip reports them completed: the sensor waits on the triggerer.
    env.wait_for_task_state(DEFERRAL_DAG, run_id, "wait_processed", ["deferred"], timeout=180)
    assert env.wait_for_run(DEFERRAL_DAG, run_id, timeout=180) == "success", env.describe_run(
        DEFERRAL_DAG, run_id
    )

    stats = emulator.stats()
    orders = stats["resources"]["order"]
    assert orders["records_accepted"] == orders["unique_records"] == RECORDS
    assert orders["duplicates"] == 0 and stats["duplicates"] == 0
    assert orders["requests_accepted"] == BATCHES
    assert stats["errors"]["422"] == 0 and stats["errors"]["5xx"] == 0

    returns = env.xcom_returns(DEFERRAL_DAG, run_id)
    summary = returns[("send_orders", -1)]
    assert summary["records_sent"] == RECORDS and summary["batches_sent"] == BATCHES
    assert summary["deferrals"] >= 1
    assert len(set(summary["request_ids"])) == RECORDS == stats["request_ids_issued"]
    processed = returns[("wait_processed", -1)]
    assert processed["total"] == processed["completed"] == RECORDS
    assert processed["failed"] == 0

    tries = {ti["task_id"]: ti["try_number"] for ti in env.task_instances(DEFERRAL_DAG, run_id)}
    assert tries["send_orders"] == 1, "a deferral resume is not a retry"


def test_killed_task_is_retried_and_resumes_without_resending(live: LiveAirflow) -> None:
    env, emulator = live.env, live.emulator
    emulator.reset()
    run_id = env.trigger(CRASH_DAG)
    pid_file = live.state_dir / f"{CRASH_DAG}.send_events.try1.pid"

    def sleeping_on_rate_limit() -> bool:
        stats = emulator.stats()
        events = stats["resources"]["events"]
        return (
            pid_file.exists()
            and events["requests_accepted"] == RATE_LIMIT
            and stats["errors"]["429"] >= 1
        )

    wait_until(sleeping_on_rate_limit, 180, 0.25, "the task to hit the rate limit")
    time.sleep(1)  # let it settle into the wait: between batches, nothing in flight
    assert env.task_state(CRASH_DAG, run_id, "send_events") == "running"
    pid = int(pid_file.read_text())
    assert pid in env.processes(), "the pid must be one of our task processes"
    os.kill(pid, signal.SIGKILL)

    assert env.wait_for_run(CRASH_DAG, run_id, timeout=240) == "success", env.describe_run(
        CRASH_DAG, run_id
    )
    (ti,) = [t for t in env.task_instances(CRASH_DAG, run_id) if t["task_id"] == "send_events"]
    assert ti["try_number"] == 2, ti
    retry_pid = int((live.state_dir / f"{CRASH_DAG}.send_events.try2.pid").read_text())
    assert retry_pid != pid
    history = env.task_history(CRASH_DAG, run_id, "send_events")
    assert [h["try_number"] for h in history] == [1] and history[0]["state"] == "failed"

    stats = emulator.stats()
    events = stats["resources"]["events"]
    assert events["records_accepted"] == events["unique_records"] == RECORDS
    assert events["duplicates"] == 0, "the retry resent records the killed try had delivered"
    assert events["requests_accepted"] == BATCHES
    summary = env.xcom_returns(CRASH_DAG, run_id)[("send_events", -1)]
    assert summary["records_sent"] == RECORDS and summary["batches_sent"] == BATCHES


def test_a_kill_mid_request_is_surfaced_on_retry_never_resent(live: LiveAirflow) -> None:
    """Issue 14 #1: SIGKILL while a batch of events is on the wire; the retry must not resend."""
    env, emulator = live.env, live.emulator
    emulator.reset()
    emulator.configure(latency=3)
    run_id = env.trigger(IN_FLIGHT_DAG)
    pid_file = live.state_dir / f"{IN_FLIGHT_DAG}.send_events.try1.pid"
    wait_until(
        lambda: pid_file.exists() and emulator.stats()["requests_total"] >= 4,
        180,
        0.1,
        "the 4th POST to arrive",
    )
    time.sleep(1)  # the 4th batch is on the wire: the emulator answers after 3 s
    os.kill(int(pid_file.read_text()), signal.SIGKILL)

    assert env.wait_for_run(IN_FLIGHT_DAG, run_id, timeout=240) == "failed"
    (ti,) = [t for t in env.task_instances(IN_FLIGHT_DAG, run_id) if t["task_id"] == "send_events"]
    assert ti["try_number"] == 2, ti
    logs = env.task_logs(IN_FLIGHT_DAG, run_id)
    assert "Outcome unknown for events records 30-39" in logs, logs[-3000:]
    time.sleep(3)  # let the emulator finish the request the killed try left behind
    events = emulator.stats()["resources"]["events"]
    assert events["duplicates"] == 0 and events["records_accepted"] == events["unique_records"]
    assert events["requests_accepted"] == 4, "the retry sent the in-flight batch again"
    emulator.configure(latency=0)


def test_changed_mode_three_dag_runs_send_only_what_changed(live: LiveAirflow) -> None:
    env, emulator = live.env, live.emulator
    emulator.reset()

    def run(conf: dict) -> dict:
        run_id = env.trigger(CHANGED_SUBSCRIBERS_DAG, conf=conf)
        state = env.wait_for_run(CHANGED_SUBSCRIBERS_DAG, run_id, timeout=240)
        assert state == "success", env.describe_run(CHANGED_SUBSCRIBERS_DAG, run_id)
        return env.xcom_returns(CHANGED_SUBSCRIBERS_DAG, run_id)[("sync_subscribers", -1)]

    first = run({"count": 50})
    assert (first["records_sent"], first["records_new"]) == (50, 50)
    second = run({"count": 50})
    assert (second["records_sent"], second["records_unchanged"]) == (0, 50)
    third = run({"count": 50, "changed": [7]})  # 2%
    assert (third["records_sent"], third["records_changed"], third["records_unchanged"]) == (
        1,
        1,
        49,
    )
    subscribers = emulator.stats()["resources"]["subscribers"]
    assert subscribers["records_accepted"] == 51 and subscribers["requests_accepted"] == 6


def test_changed_mode_killed_run_then_new_run_sends_each_event_once(live: LiveAirflow) -> None:
    env, emulator = live.env, live.emulator
    emulator.reset()
    run_id = env.trigger(CHANGED_EVENTS_DAG, conf={"count": 80})
    pid_file = live.state_dir / f"{CHANGED_EVENTS_DAG}.send_events.try1.pid"

    def sleeping_on_rate_limit() -> bool:
        stats = emulator.stats()
        accepted = stats["resources"].get("events", {}).get("requests_accepted", 0)
        return pid_file.exists() and accepted == RATE_LIMIT and stats["errors"]["429"] >= 1

    wait_until(sleeping_on_rate_limit, 180, 0.25, "the task to hit the rate limit")
    time.sleep(1)  # between batches: nothing in flight
    os.kill(int(pid_file.read_text()), signal.SIGKILL)
    assert env.wait_for_run(CHANGED_EVENTS_DAG, run_id, timeout=240) == "failed"
    pid_file.unlink()

    # a new DAG run (no task state carried over): only the 30 events not yet accepted go out
    second = env.trigger(CHANGED_EVENTS_DAG, conf={"count": 80})
    state = env.wait_for_run(CHANGED_EVENTS_DAG, second, timeout=240)
    assert state == "success", env.describe_run(CHANGED_EVENTS_DAG, second)
    summary = env.xcom_returns(CHANGED_EVENTS_DAG, second)[("send_events", -1)]
    assert (summary["records_sent"], summary["records_unchanged"]) == (30, 50)
    events = emulator.stats()["resources"]["events"]
    assert events["records_accepted"] == events["unique_records"] == 80
    assert events["duplicates"] == 0
