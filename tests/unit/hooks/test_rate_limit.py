"""Floors, caps and the per-request budget of 429 waits (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_drip.exceptions import DripRateLimitError
from airflow_provider_drip.hooks.rate_limit import (
    BATCH_RATE_LIMIT_FLOOR_S,
    RATE_LIMIT_WAIT_CAP_S,
    RateLimitBudget,
    parse_rate_limit_reset,
    parse_retry_after,
    rate_limit_wait,
)

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "headers",
    [
        {"Retry-After": "0"},
        {"Retry-After": "Sun, 01 Mar 2026 11:00:00 GMT"},
        {"X-RateLimit-Reset": str(int(NOW.timestamp()))},
        {"X-RateLimit-Reset": "0"},
    ],
)
def test_zero_or_past_hints_are_floored(headers):
    wait, retry_at, source = rate_limit_wait(headers, NOW, 3600, floor=5.0)
    assert (wait, retry_at) == (5.0, NOW + timedelta(seconds=5))
    assert "floor" in source


@pytest.mark.parametrize(
    "headers",
    [
        {"Retry-After": "inf"},
        {"Retry-After": "1e20"},
        {"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"},
        {"X-RateLimit-Reset": "1e20"},
        {"X-RateLimit-Reset": "inf"},
        {"X-RateLimit-Reset": "Fri, 31 Dec 9999 23:59:59 GMT"},
    ],
)
def test_absurd_hints_are_capped(headers):
    wait, retry_at, source = rate_limit_wait(headers, NOW, 3600, floor=5.0)
    assert wait == RATE_LIMIT_WAIT_CAP_S and "capped" in source
    assert retry_at == NOW + timedelta(seconds=RATE_LIMIT_WAIT_CAP_S)


def test_nan_is_unparsable_and_the_default_applies():
    assert parse_retry_after("nan", NOW) is None
    assert parse_rate_limit_reset("nan", NOW) is None
    assert rate_limit_wait({"Retry-After": "nan"}, NOW, 90)[0] == 90.0


def test_default_wait_is_floored_and_capped_too():
    assert rate_limit_wait({}, NOW, 0, floor=5.0)[0] == 5.0
    assert rate_limit_wait({}, NOW, 10**9)[0] == RATE_LIMIT_WAIT_CAP_S


class TestBudget:
    def budget(self, **kwargs) -> RateLimitBudget:
        kwargs.setdefault("max_total_wait", 20.0)
        return RateLimitBudget(default_wait=3600, floor=BATCH_RATE_LIMIT_FLOOR_S, **kwargs)

    def test_total_not_each_wait_is_bounded(self):
        budget = self.budget()
        assert budget.next_wait({"Retry-After": "8"}, NOW)[0] == 8.0
        assert budget.next_wait({"Retry-After": "8"}, NOW)[0] == 8.0
        with pytest.raises(DripRateLimitError) as info:
            budget.next_wait({"Retry-After": "8"}, NOW, "slow down")
        err = info.value
        assert (err.consecutive_429s, err.waited_s) == (3, 16.0)
        assert err.retry_at == NOW + timedelta(seconds=8)
        assert "exceed the 20s allowed in-process" in str(err) and "slow down" in str(err)

    def test_consecutive_429s_are_capped(self):
        budget = self.budget(max_total_wait=1e9, max_consecutive=2)
        budget.next_wait({}, NOW)
        budget.next_wait({}, NOW)
        with pytest.raises(DripRateLimitError, match="3 consecutive 429 answers"):
            budget.next_wait({}, NOW)

    def test_another_answer_ends_the_run(self):
        budget = self.budget(max_total_wait=1e9, max_consecutive=1)
        budget.next_wait({}, NOW)
        budget.answered()
        budget.next_wait({}, NOW)
        assert budget.consecutive == 1
