"""Transport limits of both hooks: an overall deadline per attempt, TLS errors are fatal.

A server trickling its answer a byte at a time never trips the read timeout (each byte arrives
in time), so each attempt has an overall deadline: connect + read timeout + one more read
timeout. A TLS failure is a configuration error (plain http behind an https URL, a bad
certificate): retrying it six times and calling it "safe to run again" would hide the cause.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from airflow_provider_drip.exceptions import (
    DripAmbiguousOutcomeError,
    DripError,
    DripServerError,
)
from airflow_provider_drip.hooks.drip_async import DripAsyncHook
from tests.integration.hook_server import Reply, connection_json

REC = [{"email": "ann@example.com", "action": "Opened a door"}]
SLOW_BODY = b'{"padding": "' + b"x" * 60 + b'"}'
TIMEOUT = [1, 0.4]  # deadline: 1 + 0.4 + 0.4 = 1.8 s; the trickle would take 0.1 * 75 = 7.5 s


def test_trickling_answer_to_events_is_ambiguous_after_the_deadline(server, make_hook):
    server.script(Reply(201, SLOW_BODY, trickle=0.1))
    started = time.monotonic()
    with pytest.raises(DripAmbiguousOutcomeError) as info:
        make_hook(timeout=TIMEOUT).post_batch("events", REC)
    assert time.monotonic() - started < 3.5
    assert "deadline" in info.value.cause
    assert len(server.requests) == 1


def test_trickling_answer_to_subscribers_is_retried(server, make_hook):
    server.script(Reply(201, SLOW_BODY, trickle=0.1), Reply(201, {}))
    started = time.monotonic()
    result = make_hook(timeout=TIMEOUT).post_batch("subscribers", REC)
    assert result.attempts == 2
    assert time.monotonic() - started < 4.5


def test_async_hook_has_the_same_deadline(server, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_DRIP_SLOW", connection_json(server.url, timeout=TIMEOUT))
    server.default = Reply(200, SLOW_BODY, trickle=0.1)

    async def main() -> None:
        async with DripAsyncHook("drip_slow", max_retries=1, backoff_base=0.01) as hook:
            await hook.get_request_status("a")

    started = time.monotonic()
    with pytest.raises(DripServerError, match="deadline"):
        asyncio.run(main())
    assert time.monotonic() - started < 6
    assert len(server.requests) == 2


@pytest.mark.parametrize("resource", ["events", "cart"])
def test_trickling_headers_are_cut_at_the_deadline_too(server, make_hook, resource):
    server.script(Reply(201, {}, trickle_head=0.1))  # ~70 header bytes: 7 s
    started = time.monotonic()
    with pytest.raises(DripAmbiguousOutcomeError) as info:
        make_hook(timeout=TIMEOUT).post_batch(resource, REC)
    assert time.monotonic() - started < 3.5
    assert "deadline" in info.value.cause


def test_a_cut_connection_is_not_reused(server, make_hook):
    server.script(Reply(201, SLOW_BODY, trickle=0.1), Reply(201, {}), Reply(201, {}))
    hook = make_hook(timeout=TIMEOUT)
    with pytest.raises(DripAmbiguousOutcomeError):
        hook.post_batch("events", REC)
    assert hook.post_batch("events", REC).status == 201
    assert hook.post_batch("events", REC).status == 201
    ports = [r.client_port for r in server.requests]
    assert ports[1] != ports[0] and ports[2] == ports[1]  # fresh, then pooled as usual


def test_small_answers_within_the_deadline_are_read(server, make_hook):
    server.script(Reply(201, b"{}", trickle=0.1))
    assert make_hook(timeout=TIMEOUT).post_batch("events", REC).status == 201


@pytest.fixture
def https_to_plain_http(server, make_hook):
    """A hook whose URL says https, to a server that speaks plain http."""
    hook = make_hook(server.url.replace("http://", "https://"))
    slept: list[float] = []
    hook._sleep = slept.append
    return hook, slept


def test_tls_failure_on_test_connection_is_explained_not_retried(https_to_plain_http):
    hook, slept = https_to_plain_http
    ok, message = hook.test_connection()
    assert not ok
    assert "plain http" in message and "http:// only for a loopback" in message
    assert slept == []


@pytest.mark.parametrize("resource", ["events", "subscribers"])
def test_tls_failure_on_a_batch_is_fatal(https_to_plain_http, resource):
    hook, slept = https_to_plain_http
    with pytest.raises(DripError) as info:
        hook.post_batch(resource, REC)
    assert type(info.value) is DripError
    assert "plain http" in str(info.value)
    assert "will not duplicate" not in str(info.value)
    assert slept == []


def test_async_tls_failure_is_fatal(server, monkeypatch):
    url = server.url.replace("http://", "https://")
    monkeypatch.setenv("AIRFLOW_CONN_DRIP_TLS", connection_json(url))

    async def main() -> None:
        async with DripAsyncHook("drip_tls") as hook:
            await hook.get_request_status("a")

    with pytest.raises(DripError) as info:
        asyncio.run(main())
    assert type(info.value) is DripError and "plain http" in str(info.value)
