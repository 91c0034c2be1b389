"""The one retry policy of both hooks, built on tenacity: what is resent, how long to wait.

An attempt (one HTTP exchange, done by the sync or the async hook) ends in one of three ways the
policy cares about: it raises :class:`TransientFailure` (safe to send again: a 5xx, or a failure
known not to have reached Drip, or any failure of an idempotent request), :class:`RateLimitWait`
(a 429 whose wait the :class:`~.rate_limit.RateLimitBudget` allowed), or anything else, which
ends the request. Transient failures are retried ``max_retries`` times with exponential backoff
and full jitter; 429 waits do not count as retries.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from tenacity import AsyncRetrying, RetryCallState, Retrying, retry_if_exception
from tenacity.stop import stop_base
from tenacity.wait import wait_base

RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
"""The server answered, but with a transient failure: safe to send again."""

GATEWAY_TIMEOUT_STATUSES = frozenset({504})
"""A proxy passed the request on and got no answer in time: the origin may have processed it.
For resources that are not idempotent this is as ambiguous as a dropped connection."""

T = TypeVar("T")


def backoff_delay(
    retry_index: int,
    base: float,
    cap: float,
    rand: Callable[[], float] = random.random,
) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**retry_index)].

    Full jitter spreads retries of many workers sharing one account instead of having them
    hammer Drip in lockstep.
    """
    if base <= 0 or cap <= 0:
        return 0.0
    ceiling = min(cap, base * (2 ** min(retry_index, 62)))
    return ceiling * rand()


class TransientFailure(Exception):
    """An attempt failed in a way that is safe to retry. ``retry_after`` is a server hint."""

    def __init__(self, cause: str, where: str, retry_after: float | None = None) -> None:
        super().__init__(cause)
        self.cause = cause
        self.where = where
        self.retry_after = retry_after


class RateLimitWait(Exception):
    """A 429 to wait out in-process for ``wait`` seconds (already floored, capped, budgeted)."""

    def __init__(self, wait: float, source: str, where: str) -> None:
        super().__init__(f"rate limited for {wait:.1f}s (from {source})")
        self.wait = wait
        self.source = source
        self.where = where


@dataclass
class _Run:
    """Per-request counters the tenacity callbacks share (429 waits are not retries)."""

    failures: int = 0
    """Transient failures so far; the next backoff is for retry number ``failures``."""

    def after(self, state: RetryCallState) -> None:
        if isinstance(_exception(state), TransientFailure):
            self.failures += 1


def _exception(state: RetryCallState) -> BaseException | None:
    return state.outcome.exception() if state.outcome is not None else None


class _StopAfterRetries(stop_base):
    def __init__(self, run: _Run, max_retries: int) -> None:
        self.run = run
        self.max_retries = max_retries

    def __call__(self, state: RetryCallState) -> bool:
        return isinstance(_exception(state), TransientFailure) and (
            self.run.failures > self.max_retries
        )


class _PolicyWait(wait_base):
    def __init__(self, policy: RetryPolicy, run: _Run, rand: Callable[[], float]) -> None:
        self.policy = policy
        self.run = run
        self.rand = rand

    def __call__(self, state: RetryCallState) -> float:
        exc = _exception(state)
        if isinstance(exc, RateLimitWait):
            return exc.wait
        if isinstance(exc, TransientFailure):
            return self.policy.backoff(self.run.failures - 1, exc.retry_after, self.rand)
        return 0.0


@dataclass(frozen=True)
class RetryPolicy:
    """How both hooks retry: ``max_retries`` resends of transient failures, jittered backoff.

    ``backoff_base`` is the first backoff ceiling (doubling per retry) and ``backoff_max`` caps
    one sleep; a server's ``Retry-After`` on a 5xx stretches the sleep up to ``backoff_max``.
    """

    max_retries: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 60.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")

    def backoff(
        self, retry_index: int, retry_after: float | None, rand: Callable[[], float]
    ) -> float:
        delay = backoff_delay(retry_index, self.backoff_base, self.backoff_max, rand)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.backoff_max))
        return delay

    def _options(self, rand: Callable[[], float], log: Any) -> dict[str, Any]:
        run = _Run()

        def before_sleep(state: RetryCallState) -> None:
            exc = _exception(state)
            delay = state.upcoming_sleep
            if isinstance(exc, RateLimitWait):
                log.info(
                    "Drip rate limited %s (HTTP 429), waiting %.1fs (from %s)",
                    exc.where,
                    delay,
                    exc.source,
                )
            elif isinstance(exc, TransientFailure):
                log.warning(
                    "Drip %s failed (%s); retry %d of %d in %.1fs",
                    exc.where,
                    exc.cause,
                    run.failures,
                    self.max_retries,
                    delay,
                )

        return {
            "retry": retry_if_exception(lambda e: isinstance(e, (TransientFailure, RateLimitWait))),
            "stop": _StopAfterRetries(run, self.max_retries),
            "wait": _PolicyWait(self, run, rand),
            "after": run.after,
            "before_sleep": before_sleep,
            "reraise": True,
        }

    def call(
        self,
        attempt: Callable[[], T],
        *,
        log: Any,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
    ) -> T:
        """Run ``attempt`` until it returns or raises something not retryable.

        When the retries are used up the last :class:`TransientFailure` is raised.
        """
        return Retrying(sleep=sleep, **self._options(rand, log))(attempt)

    async def acall(
        self,
        attempt: Callable[[], Awaitable[T]],
        *,
        log: Any,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> T:
        """The same policy for a coroutine, sleeping with ``asyncio.sleep``."""
        return await AsyncRetrying(sleep=sleep, **self._options(rand, log))(attempt)
