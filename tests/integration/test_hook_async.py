"""DripAsyncHook over real HTTP: the same rules as DripHook, on an event loop.

The connection comes from ``AIRFLOW_CONN_*`` through ``BaseHook.aget_connection``, as inside the
triggerer. Sleeps are recorded through ``hook._sleep``, so nothing waits for real.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any, TypeVar

import pytest

from airflow_provider_drip.exceptions import DripAPIError, DripRateLimitError, DripServerError
from airflow_provider_drip.hooks.drip_async import DripAsyncHook
from tests.integration.hook_server import (
    ACCOUNT_ID,
    TOKEN,
    HookTestServer,
    Reply,
    connection_json,
)

T = TypeVar("T")
BASIC = base64.b64encode(f"{TOKEN}:".encode()).decode()
RATE_LIMITED = {"message": "API rate limit exceeded."}
STATUS_PATH = f"/v3/{ACCOUNT_ID}/shopper_activity/requests/"


def run(call: Callable[[DripAsyncHook], Awaitable[T]], hook: DripAsyncHook) -> T:
    async def main() -> T:
        async with hook:
            return await call(hook)

    return asyncio.run(asyncio.wait_for(main(), 20))


@pytest.fixture
def make_async_hook(server, monkeypatch):
    def make(url: str | None = None, *, max_retries: int = 5, **extra: Any) -> DripAsyncHook:
        monkeypatch.setenv("AIRFLOW_CONN_DRIP_ASYNC", connection_json(url or server.url, **extra))
        return DripAsyncHook(
            "drip_async", max_retries=max_retries, backoff_base=0.01, backoff_max=0.02
        )

    return make


def recording(hook: DripAsyncHook) -> list[float]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    hook._sleep = sleep
    return slept


def test_get_request_status_reads_the_connection_asynchronously(server, make_async_hook):
    server.script(Reply(200, {"request_id": "r-1", "status": "completed", "errors": []}))
    status = run(lambda h: h.get_request_status("r/1"), make_async_hook())
    assert (status.request_id, status.status) == ("r-1", "completed")
    (req,) = server.requests
    assert req.path == f"{STATUS_PATH}r%2F1"
    assert req.header("Authorization") == f"Basic {BASIC}"
    assert req.header("User-Agent").startswith("airflow-provider-drip/")
    assert req.header("Content-Type") is None


def test_5xx_and_dropped_connections_are_retried(server, make_async_hook):
    server.script(Reply(503), Reply(drop=True), Reply(200, {"status": "queued"}))
    hook = make_async_hook()
    assert run(lambda h: h.get_request_status("a"), hook).status == "queued"
    assert len(server.requests) == 3


def test_retries_exhausted_is_a_server_error(server, make_async_hook):
    server.default = Reply(502)
    with pytest.raises(DripServerError, match=r"failed after 3 attempt\(s\); last error: HTTP 502"):
        run(lambda h: h.get_request_status("a"), make_async_hook(max_retries=2))
    assert len(server.requests) == 3


def test_429_with_zero_retry_after_waits_the_floor(server, make_async_hook):
    server.script(
        Reply(429, RATE_LIMITED, {"Retry-After": "0"}), Reply(200, {"status": "completed"})
    )
    hook = make_async_hook()
    slept = recording(hook)
    assert run(lambda h: h.get_request_status("a"), hook).status == "completed"
    assert slept == [1.0]  # never a hot loop


def test_429_beyond_the_allowed_wait_raises_with_retry_at(server, make_async_hook):
    server.script(Reply(429, RATE_LIMITED, {"Retry-After": "30"}))
    before = datetime.now(timezone.utc)
    with pytest.raises(DripRateLimitError) as info:
        run(lambda h: h.get_request_status("a", max_rate_limit_wait=0), make_async_hook())
    assert 29 <= (info.value.retry_at - before).total_seconds() <= 35
    assert info.value.consecutive_429s == 1 and info.value.waited_s == 0.0
    assert len(server.requests) == 1


def test_404_explains_the_assumed_path(server, make_async_hook):
    server.script(Reply(404, {"errors": [{"code": "not_found_error"}]}))
    with pytest.raises(DripAPIError) as info:
        run(lambda h: h.get_request_status("r-404"), make_async_hook())
    assert info.value.status == 404
    assert "request_status_path" in str(info.value)


def test_redirect_to_another_host_drops_credentials(server, make_async_hook):
    other = HookTestServer().start()
    try:
        target = f"http://localhost:{other.port}{STATUS_PATH}a"
        server.script(Reply(302, headers={"Location": target}))
        other.script(Reply(200, {"status": "completed"}))
        assert run(lambda h: h.get_request_status("a"), make_async_hook()).status == "completed"
        (forwarded,) = other.requests
        assert forwarded.header("Authorization") is None
        assert TOKEN not in forwarded.raw_head and BASIC not in forwarded.raw_head
    finally:
        other.stop()


def test_durations_take_timedelta_or_seconds(server, make_async_hook):
    from datetime import timedelta

    from airflow_provider_drip.triggers.drip import DripRequestStatusTrigger

    hook = DripAsyncHook(backoff_base=timedelta(milliseconds=500), backoff_max=timedelta(minutes=2))
    assert (hook.retry_policy.backoff_base, hook.retry_policy.backoff_max) == (0.5, 120.0)
    trigger = DripRequestStatusTrigger(
        "drip_default",
        ["a"],
        poll_interval=timedelta(minutes=1),
        backoff_base=timedelta(seconds=2),
        backoff_max=30,
    )
    kwargs = trigger.serialize()[1]
    assert (kwargs["poll_interval"], kwargs["backoff_base"], kwargs["backoff_max"]) == (
        60.0,
        2.0,
        30.0,
    )
    with pytest.raises(ValueError, match="backoff_max"):
        DripAsyncHook(backoff_max=timedelta(seconds=-1))


def test_concurrent_first_requests_share_one_client(server, make_async_hook, monkeypatch):
    import httpx

    built: list[object] = []
    real = httpx.AsyncClient

    def counting(*args: Any, **kwargs: Any) -> httpx.AsyncClient:
        client = real(*args, **kwargs)
        built.append(client)
        return client

    monkeypatch.setattr(httpx, "AsyncClient", counting)
    server.default = Reply(200, {"status": "completed"})

    async def check_many(hook: DripAsyncHook) -> list[str]:
        results = await asyncio.gather(*(hook.get_request_status(str(i)) for i in range(8)))
        return [r.status for r in results]

    assert run(check_many, make_async_hook()) == ["completed"] * 8
    assert len(built) == 1
