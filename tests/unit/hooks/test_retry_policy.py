"""The retry policy both hooks share: the same decisions, sync and async."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from airflow_provider_drip.durations import to_seconds
from airflow_provider_drip.exceptions import DripAPIError
from airflow_provider_drip.hooks.retry import (
    RateLimitWait,
    RetryPolicy,
    TransientFailure,
)


class _Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, msg: str, *args: object) -> None:
        self.lines.append(msg % args)

    warning = info


def script(*outcomes: BaseException | str):
    """An attempt function that raises or returns the scripted outcomes in order."""
    todo = list(outcomes)
    calls: list[int] = []

    def attempt() -> str:
        calls.append(1)
        outcome = todo.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    return attempt, calls


OUTCOMES = (
    TransientFailure("HTTP 503", "POST /x"),
    RateLimitWait(5.0, "Retry-After", "POST /x"),
    TransientFailure("HTTP 502", "POST /x", retry_after=3.0),
    RateLimitWait(7.0, "default", "POST /x"),
    "ok",
)


def test_sync_and_async_make_the_same_decisions():
    policy = RetryPolicy(max_retries=2, backoff_base=1.0, backoff_max=4.0)
    slept: list[float] = []
    attempt, calls = script(*OUTCOMES)
    log = _Log()
    assert policy.call(attempt, log=log, sleep=slept.append, rand=lambda: 1.0) == "ok"
    # backoff 1 s (2**0), the 429's 5 s, Retry-After 3 s within backoff_max over 2 s, 429's 7 s
    assert slept == [1.0, 5.0, 3.0, 7.0] and len(calls) == 5
    assert any("rate limited POST /x" in line for line in log.lines)
    assert any("retry 2 of 2" in line for line in log.lines)

    async_slept: list[float] = []

    async def sleep(value: float) -> None:
        async_slept.append(value)

    attempt_sync, _ = script(*OUTCOMES)

    async def attempt_async() -> str:
        return attempt_sync()

    result = asyncio.run(policy.acall(attempt_async, log=_Log(), sleep=sleep, rand=lambda: 1.0))
    assert result == "ok" and async_slept == slept


def test_rate_limit_waits_do_not_use_up_retries():
    policy = RetryPolicy(max_retries=1, backoff_base=0.0)
    attempt, calls = script(
        TransientFailure("HTTP 503", "GET /x"),
        *[RateLimitWait(1.0, "Retry-After", "GET /x")] * 10,
        "ok",
    )
    assert policy.call(attempt, log=_Log(), sleep=lambda _: None) == "ok"
    assert len(calls) == 12


def test_retries_exhausted_reraises_the_last_transient_failure():
    policy = RetryPolicy(max_retries=2, backoff_base=0.0)
    attempt, calls = script(*[TransientFailure(f"HTTP 50{i}", "GET /x") for i in range(4)])
    with pytest.raises(TransientFailure, match="HTTP 502"):
        policy.call(attempt, log=_Log(), sleep=lambda _: None)
    assert len(calls) == 3


def test_other_errors_are_not_retried():
    attempt, calls = script(DripAPIError(422), "ok")
    with pytest.raises(DripAPIError):
        RetryPolicy().call(attempt, log=_Log(), sleep=lambda _: None)
    assert len(calls) == 1


def test_negative_retries_refused():
    with pytest.raises(ValueError, match="max_retries"):
        RetryPolicy(max_retries=-1)


@pytest.mark.parametrize(
    ("value", "expected"), [(timedelta(minutes=2), 120.0), (1.5, 1.5), (3, 3.0)]
)
def test_durations_take_timedelta_or_seconds(value, expected):
    assert to_seconds(value, "backoff_max") == expected


@pytest.mark.parametrize("value", [-1, timedelta(seconds=-1), "5", True, float("nan")])
def test_bad_durations(value):
    with pytest.raises((TypeError, ValueError), match="backoff_max"):
        to_seconds(value, "backoff_max")
