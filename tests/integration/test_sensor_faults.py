"""Rate limits and server errors during status checks, sync and deferrable, over real HTTP.

The emulator rate-limits only batch endpoints, so these use the scriptable test server to answer
status checks with 429 / 5xx exactly when a test needs it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from airflow_provider_drip.exceptions import DripError
from airflow_provider_drip.sensors.drip import DripRequestStatusSensor
from airflow_provider_drip.triggers.drip import DripRequestStatusTrigger
from tests.integration.hook_server import TOKEN, HookTestServer, Reply, connection_json
from tests.integration.task_context import TaskStateStore, make_context

pytestmark = pytest.mark.integration


@pytest.fixture
def server(monkeypatch) -> Iterator[HookTestServer]:
    srv = HookTestServer().start()
    monkeypatch.setenv("AIRFLOW_CONN_DRIP_DEFAULT", connection_json(srv.url))
    yield srv
    srv.stop()


def done(rid: str) -> Reply:
    return Reply(200, {"request_id": rid, "status": "completed", "errors": []})


def run_trigger(trigger: DripRequestStatusTrigger) -> dict:
    async def first_event() -> dict:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("no event")

    return asyncio.run(asyncio.wait_for(first_event(), 20))


def test_trigger_waits_out_a_429_for_its_retry_after(server):
    server.script(
        Reply(429, {"message": "API rate limit exceeded."}, {"Retry-After": "1"}),
        done("a"),
        done("b"),
    )
    payload = run_trigger(
        DripRequestStatusTrigger(
            "drip_default", ["a", "b"], poll_interval=0.01, max_concurrency=1, backoff_base=0.01
        )
    )
    assert payload["status"] == "success"
    assert [r.path.rsplit("/", 1)[1] for r in server.requests] == ["a", "a", "b"]
    gap = server.requests[1].received_at - server.requests[0].received_at
    assert gap >= 0.95  # the round stopped at the 429: nothing was sent before Retry-After


def test_trigger_retries_5xx_then_succeeds(server):
    server.script(Reply(503), Reply(500), done("a"), done("b"))
    payload = run_trigger(
        DripRequestStatusTrigger(
            "drip_default", ["a", "b"], poll_interval=0.01, max_concurrency=1, backoff_base=0.01
        )
    )
    assert payload["status"] == "success"
    assert len(server.requests) == 4


def test_trigger_gives_up_on_persistent_5xx_with_a_retryable_error(server):
    server.default = Reply(502)
    payload = run_trigger(
        DripRequestStatusTrigger(
            "drip_default", ["a"], poll_interval=0.01, max_retries=2, backoff_base=0.01
        )
    )
    assert payload["status"] == "error"
    assert payload["retryable"] is True
    assert "failed after 3 attempt(s); last error: HTTP 502" in payload["message"]
    assert len(server.requests) == 3
    sensor = DripRequestStatusSensor(task_id="w", request_ids=["a"], deferrable=True)
    with pytest.raises(DripError) as info:
        sensor.execute_complete(make_context(), payload)
    assert type(info.value) is DripError  # a normal failure: Airflow retries apply
    assert TOKEN not in payload["message"]


def test_trigger_sends_the_api_token_as_basic_auth_and_a_user_agent(server):
    server.script(done("a"))
    run_trigger(DripRequestStatusTrigger("drip_default", ["a"], poll_interval=0.01))
    (request,) = server.requests
    assert request.path == "/v3/9876543/shopper_activity/requests/a"
    assert request.header("Authorization").startswith("Basic ")
    assert request.header("User-Agent").startswith("airflow-provider-drip/")


def test_poke_stops_at_a_long_429_and_keeps_progress_for_the_next_poke(server):
    server.script(
        done("a"),
        Reply(429, {"message": "API rate limit exceeded."}, {"Retry-After": "3600"}),
        done("b"),
    )
    store = TaskStateStore()
    sensor = DripRequestStatusSensor(
        task_id="w",
        request_ids=["a", "b"],
        max_concurrency=1,
        probe_window=None,
        verify="all",
        max_requests_per_hour=None,
    )
    started = time.monotonic()
    assert sensor.poke(make_context(store)) is False
    assert time.monotonic() - started < 5  # did not sleep for an hour in the worker
    assert store.writes == 1  # "a" completed was saved before giving up the round
    fresh = DripRequestStatusSensor(
        task_id="w",
        request_ids=["a", "b"],
        max_concurrency=1,
        probe_window=None,
        verify="all",
        max_requests_per_hour=None,
    )
    result = fresh.poke(make_context(store))
    assert result.is_done and result.xcom_value["completed"] == 2
    assert [r.path.rsplit("/", 1)[1] for r in server.requests] == ["a", "b", "b"]
