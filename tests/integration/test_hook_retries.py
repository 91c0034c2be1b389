"""DripHook's retry rules over real HTTP: what is resent, what is waited out, what is refused.

Backoff sleeps are shortened through ``backoff_base``. Rate-limit waits on batch endpoints are
floored at 5 s: tests that wait for real lower ``batch_rate_limit_floor_s`` to 1 s, the others
record the sleeps through ``hook._sleep``.
"""

from __future__ import annotations

import socket
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from airflow_provider_drip.exceptions import (
    DripAmbiguousOutcomeError,
    DripAPIError,
    DripRateLimitError,
    DripServerError,
)
from tests.integration.hook_server import Reply

REC = [{"email": "ann@example.com", "action": "Opened a door"}]
RATE_LIMITED = {"message": "API rate limit exceeded. Please try again in an hour."}
NON_IDEMPOTENT = ["events", "cart", "order", "product"]
IDEMPOTENT = {"subscribers": 201, "unsubscribes": 204, "orders": 202}
SUCCESS = {"events": 201, "cart": 202, "order": 202, "product": 202, **IDEMPOTENT}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ------------------------------------------------------------------ 5xx


def test_5xx_retried_then_success(server, make_hook):
    server.script(Reply(503), Reply(502, b"<html>bad gateway</html>"), Reply(201, {}))
    result = make_hook().post_batch("subscribers", REC)
    assert result.status == 201 and result.attempts == 3
    assert len(server.requests) == 3
    assert len({r.body for r in server.requests}) == 1  # the same batch each time


@pytest.mark.parametrize("resource", NON_IDEMPOTENT)
def test_500_is_retried_even_for_non_idempotent(server, make_hook, resource):
    server.script(Reply(500), Reply(SUCCESS[resource], {"request_ids": ["a"]}))
    assert make_hook().post_batch(resource, REC).attempts == 2


def test_retries_exhausted(server, make_hook):
    server.default = Reply(503, {"errors": [{"code": "unavailable"}]})
    hook = make_hook(max_retries=2)
    with pytest.raises(DripServerError) as info:
        hook.post_batch("subscribers", REC)
    assert len(server.requests) == 3
    text = str(info.value)
    assert "HTTP 503" in text and "3 attempt" in text


def test_retry_after_on_503_stretches_the_backoff(server, make_hook):
    server.script(Reply(503, headers={"Retry-After": "1"}), Reply(201, {}))
    hook = make_hook()
    hook.backoff_max = 2.0  # Retry-After is honoured up to backoff_max
    started = time.monotonic()
    hook.post_batch("subscribers", REC)
    assert 0.9 <= time.monotonic() - started < 5


@pytest.mark.parametrize("resource", NON_IDEMPOTENT)
def test_gateway_timeout_is_ambiguous_for_non_idempotent(server, make_hook, resource):
    server.default = Reply(SUCCESS[resource], {"request_ids": ["a"]})
    server.script(Reply(504))
    with pytest.raises(DripAmbiguousOutcomeError) as info:
        make_hook().post_batch(resource, REC)
    assert len(server.requests) == 1
    assert (info.value.resource, info.value.record_count) == (resource, 1)
    assert "504" in info.value.cause


def test_gateway_timeout_is_retried_for_idempotent(server, make_hook):
    server.script(Reply(504), Reply(201, {}))
    assert make_hook().post_batch("subscribers", REC).attempts == 2


# ------------------------------------------------------------------ 4xx


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            401,
            {"errors": [{"code": "authentication_error", "message": "Bad credentials"}]},
            "HTTP 401 for POST /v2/9876543/events/batches: authentication_error: Bad credentials",
        ),
        (
            403,
            {"errors": [{"code": "authorization_error", "message": "You are not authorized"}]},
            "HTTP 403 for POST /v2/9876543/events/batches: authorization_error: You are not",
        ),
        (
            404,
            {"errors": [{"code": "not_found_error", "message": "The resource was not found"}]},
            "HTTP 404 for POST /v2/9876543/events/batches: not_found_error: The resource",
        ),
        (
            422,
            {
                "errors": [
                    {
                        "code": "presence_error",
                        "attribute": "email",
                        "message": "Email is required",
                    },
                    {"code": "length_error", "attribute": "action", "message": "Too long"},
                ]
            },
            "email: Email is required; length_error attribute=action: Too long",
        ),
        (400, b"<html>Bad Request</html>", "HTTP 400 for POST /v2/9876543/events/batches: <html>"),
    ],
)
def test_client_errors_are_not_retried(server, make_hook, status, body, expected):
    server.script(Reply(status, body))
    with pytest.raises(DripAPIError) as info:
        make_hook().post_batch("events", REC)
    err = info.value
    assert err.status == status
    assert expected in str(err)
    assert len(server.requests) == 1


def test_422_details_are_structured(server, make_hook):
    body = {
        "errors": [{"code": "presence_error", "attribute": "email", "message": "Email is required"}]
    }
    server.script(Reply(422, body))
    with pytest.raises(DripAPIError) as info:
        make_hook().post_batch("subscribers", REC)
    assert info.value.codes == ["presence_error"]
    assert info.value.attributes == ["email"]
    assert info.value.messages == ["Email is required"]


# ------------------------------------------------------------------ 429


def test_429_retry_after_seconds_is_waited_out(server, make_hook, capsys):
    server.script(
        Reply(429, RATE_LIMITED, {"Retry-After": "1", "X-RateLimit-Limit": "50"}),
        Reply(201, {}, {"X-RateLimit-Remaining": "12"}),
    )
    hook = make_hook()
    hook.batch_rate_limit_floor_s = 1.0  # wait the server's 1 s for real, not the 5 s floor
    started = time.monotonic()
    result = hook.post_batch("events", REC, max_rate_limit_wait=5)
    elapsed = time.monotonic() - started
    assert 0.95 <= elapsed < 5
    assert server.requests[1].received_at - server.requests[0].received_at >= 0.95
    assert result.rate_limit_waited_s == 1.0
    assert result.attempts == 1 and result.rate_limit_remaining == 12
    assert "rate limited" in capsys.readouterr().out.lower()


def test_429_retry_after_http_date(server, make_hook):
    def rate_limited() -> Reply:
        now = datetime.now(timezone.utc).replace(microsecond=0)
        return Reply(
            429,
            RATE_LIMITED,
            {
                "Date": format_datetime(now, usegmt=True),
                "Retry-After": format_datetime(now + timedelta(seconds=1), usegmt=True),
            },
        )

    server.script(rate_limited(), Reply(201, {}))
    hook = make_hook()
    hook.batch_rate_limit_floor_s = 1.0
    started = time.monotonic()
    result = hook.post_batch("events", REC, max_rate_limit_wait=5)
    assert result.rate_limit_waited_s == 1.0
    assert time.monotonic() - started >= 0.95


def test_429_x_ratelimit_reset_delta(server, make_hook):
    server.script(Reply(429, RATE_LIMITED, {"X-RateLimit-Reset": "1"}), Reply(201, {}))
    hook = make_hook()
    hook.batch_rate_limit_floor_s = 1.0
    started = time.monotonic()
    result = hook.post_batch("subscribers", REC, max_rate_limit_wait=5)
    assert result.rate_limit_waited_s == pytest.approx(1.0, abs=0.05)
    assert time.monotonic() - started >= 0.9


def test_429_x_ratelimit_reset_epoch_sets_retry_at(server, make_hook):
    reset = int(time.time()) + 1800
    server.script(
        Reply(429, RATE_LIMITED, {"X-RateLimit-Reset": str(reset), "X-RateLimit-Limit": "50"})
    )
    with pytest.raises(DripRateLimitError) as info:
        make_hook().post_batch("subscribers", REC, max_rate_limit_wait=60)
    err = info.value
    assert err.retry_at == datetime.fromtimestamp(reset, tz=timezone.utc)
    assert err.limit == 50
    assert "try again in an hour" in err.drip_message
    assert len(server.requests) == 1


def test_429_beyond_max_wait_raises_with_retry_at(server, make_hook):
    slept: list[float] = []
    server.script(Reply(429, RATE_LIMITED, {"Retry-After": "600"}))
    hook = make_hook()
    hook._sleep = slept.append
    before = datetime.now(timezone.utc)
    with pytest.raises(DripRateLimitError) as info:
        hook.post_batch("events", REC, max_rate_limit_wait=599)
    after = datetime.now(timezone.utc)
    retry_at = info.value.retry_at
    assert before + timedelta(seconds=600) <= retry_at <= after + timedelta(seconds=600)
    assert slept == [] and len(server.requests) == 1
    assert "retry at" in str(info.value)


def test_429_without_headers_uses_the_connection_default(server, make_hook):
    server.script(Reply(429, RATE_LIMITED))
    before = datetime.now(timezone.utc)
    with pytest.raises(DripRateLimitError) as info:
        make_hook().post_batch("events", REC)
    delta = (info.value.retry_at - before).total_seconds()
    assert 3599 <= delta <= 3610  # rate_limit_wait_seconds defaults to an hour


def test_429_without_headers_short_default_is_waited(server, make_hook):
    server.script(Reply(429, RATE_LIMITED), Reply(201, {}))
    hook = make_hook(rate_limit_wait_seconds=1)
    hook.batch_rate_limit_floor_s = 1.0
    result = hook.post_batch("events", REC, max_rate_limit_wait=2)
    assert result.rate_limit_waited_s == 1.0 and len(server.requests) == 2


def test_429_waits_are_bounded_in_total(server, make_hook):
    server.default = Reply(429, RATE_LIMITED, {"Retry-After": "6"})
    hook = make_hook()
    slept: list[float] = []
    hook._sleep = slept.append
    with pytest.raises(DripRateLimitError) as info:
        hook.post_batch("events", REC, max_rate_limit_wait=15)
    assert slept == [6.0, 6.0]  # a third 6 s wait would take the total past 15 s
    assert len(server.requests) == 3
    err = info.value
    assert (err.consecutive_429s, err.waited_s) == (3, 12.0)
    assert "exceed the 15s allowed in-process (12.0s waited already)" in str(err)


def test_429_loop_is_bounded_even_with_zero_waits(server, make_hook):
    server.default = Reply(429, RATE_LIMITED, {"Retry-After": "0"})
    hook = make_hook()
    hook.max_rate_limit_retries = 3
    slept: list[float] = []
    hook._sleep = slept.append
    with pytest.raises(DripRateLimitError) as info:
        hook.post_batch("events", REC, max_rate_limit_wait=60)
    assert len(server.requests) == 4
    assert slept == [5.0, 5.0, 5.0]  # Retry-After: 0 is floored, never a hot loop
    assert info.value.consecutive_429s == 4
    assert "4 consecutive 429 answers (at most 3)" in str(info.value)


def test_429_does_not_use_up_retries(server, make_hook):
    server.script(
        Reply(503),
        Reply(429, RATE_LIMITED, {"Retry-After": "0"}),
        Reply(429, RATE_LIMITED, {"Retry-After": "0"}),
        Reply(201, {}),
    )
    hook = make_hook(max_retries=1)
    hook._sleep = lambda _: None
    result = hook.post_batch("subscribers", REC, max_rate_limit_wait=10)
    assert result.status == 201 and result.attempts == 2  # 429s are not attempts
    assert result.rate_limit_waited_s == 10.0
    assert len(server.requests) == 4


def _past() -> str:
    return format_datetime(datetime.now(timezone.utc) - timedelta(hours=1), usegmt=True)


@pytest.mark.parametrize(
    "headers",
    [
        {"Retry-After": "0"},
        {"Retry-After": "-5"},
        {"Retry-After": "0.001"},
        {"X-RateLimit-Reset": "0"},
        {"X-RateLimit-Reset": str(int(time.time()))},  # "now"
        "past-date",
    ],
)
def test_429_zero_or_past_hints_wait_the_floor_not_zero(server, make_hook, headers):
    if headers == "past-date":
        headers = {"Retry-After": _past()}
    server.script(Reply(429, RATE_LIMITED, headers), Reply(201, {}))
    hook = make_hook()
    slept: list[float] = []
    hook._sleep = slept.append
    result = hook.post_batch("events", REC, max_rate_limit_wait=60)
    assert slept == [5.0] and result.rate_limit_waited_s == 5.0


def test_get_429_with_zero_retry_after_waits_the_get_floor(server, make_hook):
    server.script(Reply(429, RATE_LIMITED, {"Retry-After": "0"}), Reply(200, {"accounts": []}))
    hook = make_hook()
    slept: list[float] = []
    hook._sleep = slept.append
    assert hook.list_accounts() == []
    assert slept == [1.0]


@pytest.mark.parametrize(
    "headers",
    [
        {"Retry-After": "inf"},
        {"Retry-After": "1e20"},
        {"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"},
        {"X-RateLimit-Reset": "1e20"},
        {"X-RateLimit-Reset": "inf"},
    ],
)
def test_429_absurd_hints_are_capped_not_overflowing(server, make_hook, headers):
    server.script(Reply(429, RATE_LIMITED, headers))
    before = datetime.now(timezone.utc)
    with pytest.raises(DripRateLimitError) as info:
        make_hook().post_batch("events", REC, max_rate_limit_wait=60)
    delta = (info.value.retry_at - before).total_seconds()
    assert 7199 <= delta <= 7210  # capped at 2 h


def test_429_nan_retry_after_falls_back_to_the_connection_default(server, make_hook):
    server.script(Reply(429, RATE_LIMITED, {"Retry-After": "nan"}))
    before = datetime.now(timezone.utc)
    with pytest.raises(DripRateLimitError) as info:
        make_hook(rate_limit_wait_seconds=120).post_batch("events", REC)
    assert 119 <= (info.value.retry_at - before).total_seconds() <= 130


# ------------------------------------------------------------------ no answer


@pytest.mark.parametrize("resource", NON_IDEMPOTENT)
def test_dropped_connection_is_ambiguous_for_non_idempotent(server, make_hook, resource):
    server.default = Reply(SUCCESS[resource], {"request_ids": ["a"]})
    server.script(Reply(drop=True))
    with pytest.raises(DripAmbiguousOutcomeError) as info:
        make_hook().post_batch(resource, REC)
    time.sleep(0.1)
    assert len(server.requests) == 1  # never resent
    assert info.value.resource == resource and info.value.record_count == 1
    assert "not resent" in str(info.value).lower() or "not idempotent" in str(info.value)


@pytest.mark.parametrize("resource", sorted(IDEMPOTENT))
def test_dropped_connection_is_retried_for_idempotent(server, make_hook, resource):
    server.script(Reply(drop=True), Reply(IDEMPOTENT[resource], {}))
    result = make_hook().post_batch(resource, REC)
    assert result.status == IDEMPOTENT[resource] and result.attempts == 2
    assert len(server.requests) == 2
    assert server.requests[0].body == server.requests[1].body


def test_read_timeout_is_ambiguous_for_events(server, make_hook):
    server.script(Reply(201, {}, delay=1.0))
    with pytest.raises(DripAmbiguousOutcomeError) as info:
        make_hook(timeout=[2, 0.3]).post_batch("events", REC)
    assert "timed out" in info.value.cause.lower()
    time.sleep(0.8)
    assert len(server.requests) == 1


def test_read_timeout_is_retried_for_subscribers(server, make_hook):
    server.script(Reply(201, {}, delay=1.0), Reply(201, {}))
    result = make_hook(timeout=[2, 0.3]).post_batch("subscribers", REC)
    assert result.attempts == 2


@pytest.mark.parametrize("resource", ["events", "subscribers"])
def test_connection_refused_is_retried_for_every_resource(make_hook, resource):
    hook = make_hook(f"http://127.0.0.1:{_free_port()}", max_retries=3)
    slept: list[float] = []
    hook._sleep = slept.append
    with pytest.raises(DripServerError) as info:
        hook.post_batch(resource, REC)
    assert len(slept) == 3  # every retry was taken: nothing was sent
    assert "refused" in str(info.value).lower() and "4 attempt" in str(info.value)


def test_get_is_retried_after_a_dropped_connection(server, make_hook):
    server.script(Reply(drop=True), Reply(200, {"status": "completed"}))
    assert make_hook().get_request_status("r-1").status == "completed"
    assert len(server.requests) == 2


def test_get_429_is_waited_out(server, make_hook):
    server.script(Reply(429, RATE_LIMITED, {"Retry-After": "1"}), Reply(200, {"accounts": []}))
    assert make_hook().list_accounts() == []
    assert len(server.requests) == 2


# ------------------------------------------------------------------ keep-alive


def test_idle_pooled_connection_is_not_reused(server, make_hook):
    server.default = Reply(201, {})
    hook = make_hook()
    hook.keepalive_idle_s = 0.3
    hook.post_batch("events", REC)
    hook.post_batch("events", REC)
    time.sleep(0.5)
    hook.post_batch("events", REC)
    ports = [r.client_port for r in server.requests]
    assert ports[0] == ports[1]  # pooled connection reused while fresh
    assert ports[2] != ports[1]  # a new connection after the idle threshold


def test_idle_guard_avoids_an_ambiguous_outcome(server, make_hook):
    """A server that drops requests arriving on an idle keep-alive connection (the race of a
    keep-alive timeout firing as the request arrives): with the guard the batch goes through."""
    server.default = Reply(201, {})
    server.idle_drop_after = 0.3
    guarded = make_hook()
    guarded.keepalive_idle_s = 0.2
    guarded.post_batch("events", REC)
    time.sleep(0.5)
    assert guarded.post_batch("events", REC).status == 201
    assert not any(r.idle_dropped for r in server.requests)

    # The same sequence without the guard: the stale connection costs an ambiguous outcome.
    unguarded = make_hook()
    unguarded.keepalive_idle_s = float("inf")
    unguarded.post_batch("events", REC)
    time.sleep(0.5)
    with pytest.raises(DripAmbiguousOutcomeError):
        unguarded.post_batch("events", REC)
    assert server.requests[-1].idle_dropped


def test_durations_take_timedelta_or_seconds(server, make_hook, monkeypatch):
    from airflow_provider_drip.hooks.drip import DripHook

    hook = DripHook("drip_test", backoff_base=timedelta(milliseconds=10), backoff_max=0.05)
    assert (hook.backoff_base, hook.backoff_max) == (0.01, 0.05)
    with pytest.raises(TypeError, match="backoff_base"):
        DripHook(backoff_base="1s")
    server.script(Reply(429, RATE_LIMITED, {"Retry-After": "8"}), Reply(201, {}))
    hook = make_hook()
    slept: list[float] = []
    hook._sleep = slept.append
    hook.post_batch("events", REC, max_rate_limit_wait=timedelta(seconds=10))
    assert slept == [8.0]
