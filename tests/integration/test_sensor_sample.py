"""Sample mode: a big sync confirmed with a bounded number of status requests (issue 16).

The ids come from a real ``DripShopperActivityOperator`` run, whose summary carries the batch
boundaries; the emulator processes each batch in time after accepting it, however often it is
polled.
"""

from __future__ import annotations

import time

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_drip.operators.drip import DripShopperActivityOperator
from airflow_provider_drip.sensors.drip import DripRequestStatusSensor
from tests.integration.samples import make_records
from tests.integration.task_context import make_context

pytestmark = pytest.mark.integration

FAIL = "__drip_fail__"


def status_checks(emulator) -> int:
    return emulator.control.stats()["status_counts"].get("200", 0)


def sync_orders(count: int, fail: tuple[int, ...] = ()) -> dict:
    records = make_records("order", count)
    for index in fail:
        records[index]["order_public_id"] = f"#{index}{FAIL}"
    operator = DripShopperActivityOperator(task_id="orders", activity="order", records=records)
    return operator.execute(make_context())


def sensor(**kwargs) -> DripRequestStatusSensor:
    kwargs.setdefault("poke_interval", 0.2)
    kwargs.setdefault("timeout", 120)
    return DripRequestStatusSensor(task_id="wait", **kwargs)


def test_20000_ids_in_20_batches_confirmed_with_at_most_1000_status_requests(emulator):
    emulator.control.configure(status_polls=0, processing_delay=0.5, seconds_per_record=0.00005)
    summary = sync_orders(20_000)
    assert summary["request_id_batches"] == [1000] * 20
    before = status_checks(emulator)
    started = time.monotonic()
    result = sensor(request_ids=summary, max_requests_per_hour=None).execute(make_context())
    checks = status_checks(emulator) - before
    assert result["completed"] == result["total"] == result["ids_checked"]
    assert result["ids_total"] == 20_000 and result["ids_unverified"] == 20_000 - 820
    assert checks <= 1000, checks
    print(f"sample mode: {checks} status requests in {time.monotonic() - started:.1f}s")


def test_a_failed_last_record_of_a_batch_fails_the_task_naming_its_id(emulator):
    summary = sync_orders(1500, fail=(999,))  # the last record of the first batch
    failed_id = summary["request_ids"][999]
    with pytest.raises(AirflowFailException, match=failed_id):
        sensor(request_ids=summary).execute(make_context())


def test_verify_all_checks_every_id(emulator):
    summary = sync_orders(300)
    result = sensor(request_ids=summary, verify="all", max_requests_per_hour=None).execute(
        make_context()
    )
    assert result["completed"] == 300 and "ids_unverified" not in result


def test_the_request_budget_paces_every_round(emulator):
    emulator.control.configure(status_polls=0, processing_delay=0, seconds_per_record=0)
    summary = sync_orders(150)
    wait = sensor(
        request_ids=summary, verify="all", max_requests_per_hour=3600, poke_interval=1, timeout=60
    )
    context = make_context()
    before = status_checks(emulator)
    assert wait.poke(context) is False
    assert status_checks(emulator) - before == 1  # 3600/h over a 1 s interval: one check


def test_a_deferred_sample_mode_sensor_reports_its_coverage_too(emulator):
    from airflow.sdk.exceptions import TaskDeferred

    from tests.integration.test_trigger import run_trigger

    summary = sync_orders(2500)
    wait = sensor(request_ids=summary, deferrable=True, max_requests_per_hour=None)
    with pytest.raises(TaskDeferred) as info:
        wait.execute(make_context())
    (event,) = run_trigger(info.value.trigger)
    resumed = sensor(request_ids=summary, deferrable=True, max_requests_per_hour=None)
    result = resumed.execute_complete(make_context(), event.payload)
    assert result["ids_total"] == 2500 and result["ids_checked"] == 3 * 1 + 40 + 40 + 20
    assert result["completed"] == result["ids_checked"]
