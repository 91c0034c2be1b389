"""DripRequestStatusTrigger on a real asyncio loop over real HTTP, and the deferrable sensor.

The trigger reads its connection with ``BaseHook.aget_connection`` from
``AIRFLOW_CONN_DRIP_DEFAULT``, as it would inside the triggerer.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import json
import time
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred
from airflow.triggers.base import TriggerEvent

from airflow_provider_drip.exceptions import DripError
from airflow_provider_drip.sensors.drip import DripRequestStatusSensor
from airflow_provider_drip.triggers.drip import DripRequestStatusTrigger
from airflow_provider_drip.triggers.status_poll import encode_progress
from tests.integration.task_context import TaskStateStore, make_context
from tests.integration.test_sensor import send_orders, status_checks

pytestmark = pytest.mark.integration


def run_trigger(trigger: DripRequestStatusTrigger, timeout: float = 20) -> list[TriggerEvent]:
    """Drive ``trigger.run()`` on a fresh event loop, as the triggerer does; collect its events."""

    async def collect() -> list[TriggerEvent]:
        return [event async for event in trigger.run()]

    return asyncio.run(asyncio.wait_for(collect(), timeout))


def trigger(ids: list[str], **kwargs: Any) -> DripRequestStatusTrigger:
    kwargs.setdefault("poll_interval", 0.05)
    return DripRequestStatusTrigger(drip_conn_id="drip_default", request_ids=ids, **kwargs)


def deferrable_sensor(**kwargs: Any) -> DripRequestStatusSensor:
    kwargs.setdefault("poke_interval", 0.05)
    kwargs.setdefault("timeout", 20)
    kwargs.setdefault("verify", "all")
    kwargs.setdefault("max_requests_per_hour", None)
    return DripRequestStatusSensor(task_id="wait_for_drip", deferrable=True, **kwargs)


def test_trigger_yields_one_success_event_with_the_summary(emulator):
    ids = send_orders(30)
    events = run_trigger(trigger(ids, already_completed=5))
    assert len(events) == 1
    payload = events[0].payload
    assert payload["status"] == "success"
    assert payload["summary"]["total"] == 35
    assert payload["summary"]["completed"] == 35
    assert payload["summary"]["failed_requests"] == []
    assert status_checks(emulator) == 60  # queued once, then completed; never re-checked


def test_trigger_reports_failed_ids_with_drips_errors(emulator):
    ids = send_orders(8, fail=(2,))
    (event,) = run_trigger(trigger(ids))
    payload = event.payload
    assert payload["status"] == "failed"
    assert payload["summary"]["failed"] == 1
    assert payload["summary"]["failed_requests"] == [
        {
            "request_id": ids[2],
            "errors": [
                "processing_error attribute=order_public_id: "
                "order_public_id was rejected while processing the request"
            ],
        }
    ]
    assert ids[2] in payload["message"]


def test_trigger_missing_endpoint_is_a_non_retryable_error_event(emulator):
    ids = send_orders(2)
    emulator.control.configure(status_endpoint=False)
    (event,) = run_trigger(trigger(ids))
    assert event.payload["status"] == "error"
    assert event.payload["retryable"] is False
    assert "connection extra 'request_status_path'" in event.payload["message"]


def test_trigger_bad_credentials_are_an_error_event_without_the_token(emulator, monkeypatch):
    conn = json.loads(emulator.airflow_conn_json())
    conn["password"] = "wrong-token"
    monkeypatch.setenv("AIRFLOW_CONN_DRIP_DEFAULT", json.dumps(conn))
    (event,) = run_trigger(trigger(["00000000-0000-4000-8000-000000000001"]))
    assert event.payload["status"] == "error"
    assert "HTTP 401" in event.payload["message"]
    assert "wrong-token" not in json.dumps(event.payload)


def test_trigger_missing_connection_is_an_error_event(emulator):
    (event,) = run_trigger(
        DripRequestStatusTrigger(drip_conn_id="no_such_conn", request_ids=["x"], poll_interval=0)
    )
    assert event.payload["status"] == "error"
    assert "no_such_conn" in event.payload["message"]


def test_trigger_does_not_block_the_event_loop(emulator):
    """While the trigger waits between rounds, other coroutines keep running."""
    emulator.control.configure(status_polls=0, status_seconds=0.5)
    ids = send_orders(20)
    ticks: list[float] = []

    async def main() -> dict[str, Any]:
        async def ticker() -> None:
            while True:
                ticks.append(time.monotonic())
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        events = [e async for e in trigger(ids, poll_interval=0.1).run()]
        task.cancel()
        return events[0].payload

    payload = asyncio.run(asyncio.wait_for(main(), 20))
    assert payload["status"] == "success"
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert len(ticks) > 30
    assert max(gaps) < 0.2, max(gaps)


def test_trigger_serialize_round_trips_without_the_token(emulator):
    original = trigger(["a", "b"], already_completed=3, probe_window=None, max_concurrency=4)
    classpath, kwargs = original.serialize()
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert classpath == "airflow_provider_drip.triggers.drip.DripRequestStatusTrigger"
    assert emulator.token not in json.dumps(kwargs)
    assert set(kwargs) >= {"drip_conn_id", "request_ids", "poll_interval"}


def test_deferrable_sensor_defers_then_returns_the_triggers_summary(emulator):
    ids = send_orders(12)
    sensor = deferrable_sensor(request_ids={"request_ids": ids})
    with pytest.raises(TaskDeferred) as info:
        sensor.execute(make_context())
    deferred = info.value
    assert deferred.method_name == "execute_complete"
    assert deferred.timeout is not None and deferred.timeout.total_seconds() == 20
    _, kwargs = deferred.trigger.serialize()
    assert kwargs["request_ids"] == ids
    assert status_checks(emulator) == 0  # deferring costs no status checks on the worker
    rebuilt = DripRequestStatusTrigger(**kwargs)  # as the triggerer rebuilds it
    (event,) = run_trigger(rebuilt)
    summary = sensor.execute_complete(make_context(), event.payload)
    assert summary["completed"] == 12 and summary["total"] == 12


def test_deferrable_sensor_only_hands_pending_ids_to_the_trigger(emulator):
    """Progress saved by an earlier try (or pokes) is not checked again on the triggerer."""
    ids = send_orders(10)
    store = TaskStateStore()
    store.set("drip_request_status_progress", encode_progress(ids, set(ids[:6])))
    with pytest.raises(TaskDeferred) as info:
        deferrable_sensor(request_ids=ids).execute(make_context(store))
    kwargs = info.value.trigger.serialize()[1]
    assert kwargs["request_ids"] == ids[6:]
    assert kwargs["already_completed"] == 6
    (event,) = run_trigger(DripRequestStatusTrigger(**kwargs))
    assert event.payload["summary"]["completed"] == 10
    assert status_checks(emulator) == 8


def test_deferrable_sensor_with_no_ids_succeeds_without_deferring(emulator):
    summary = deferrable_sensor(request_ids=[]).execute(make_context())
    assert summary["total"] == 0


def test_deferred_failure_has_the_same_message_as_the_poke_path(emulator):
    ids = send_orders(9, fail=(0, 5))
    with pytest.raises(AirflowFailException) as sync_info:
        DripRequestStatusSensor(
            task_id="sync",
            request_ids=ids,
            poke_interval=0.05,
            timeout=20,
            verify="all",
            max_requests_per_hour=None,
        ).execute(make_context())
    emulator.control.reset()
    emulator.control.configure(status_polls=1, rate_limit=0)
    ids = send_orders(9, fail=(0, 5))  # the same ids again after the reset
    sensor = deferrable_sensor(request_ids=ids)
    with pytest.raises(TaskDeferred) as info:
        sensor.execute(make_context())
    (event,) = run_trigger(info.value.trigger)
    with pytest.raises(AirflowFailException) as deferred_info:
        sensor.execute_complete(make_context(), event.payload)
    assert str(deferred_info.value) == str(sync_info.value)
    assert ids[0] in str(sync_info.value) and ids[5] in str(sync_info.value)


def test_deferred_404_has_the_same_message_as_the_poke_path(emulator):
    ids = send_orders(3)
    emulator.control.configure(status_endpoint=False)
    with pytest.raises(AirflowFailException) as sync_info:
        DripRequestStatusSensor(
            task_id="sync",
            request_ids=ids,
            poke_interval=0.05,
            timeout=20,
            verify="all",
            max_requests_per_hour=None,
        ).execute(make_context())
    (event,) = run_trigger(trigger(ids))
    with pytest.raises(AirflowFailException) as deferred_info:
        deferrable_sensor(request_ids=ids).execute_complete(make_context(), event.payload)
    assert str(deferred_info.value) == str(sync_info.value)


def test_execute_complete_error_events(emulator):
    sensor = deferrable_sensor(request_ids=["a"])
    with pytest.raises(DripError, match="Drip unavailable") as info:
        sensor.execute_complete(
            {}, {"status": "error", "message": "Drip unavailable", "retryable": True}
        )
    assert not isinstance(info.value, AirflowFailException)
    with pytest.raises(AirflowFailException, match="HTTP 401"):
        sensor.execute_complete({}, {"status": "error", "message": "HTTP 401", "retryable": False})
    with pytest.raises(DripError, match="without an event"):
        sensor.execute_complete({}, None)
