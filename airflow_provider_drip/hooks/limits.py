"""The rate-limit knobs both hooks share, and the per-request wait budget built from them."""

from __future__ import annotations

from airflow_provider_drip.hooks.rate_limit import (
    BATCH_RATE_LIMIT_FLOOR_S,
    GET_RATE_LIMIT_FLOOR_S,
    MAX_CONSECUTIVE_429S,
    RateLimitBudget,
)
from airflow_provider_drip.hooks.settings import DripConnectionSettings


class RateLimitKnobs:
    """Class attributes a test or a benchmark may lower on one hook (never below what Drip
    needs in production), and the one place a request's wait budget is made from them."""

    max_rate_limit_retries: int = MAX_CONSECUTIVE_429S
    """Upper bound on consecutive 429 waits for one request, whatever ``Retry-After`` says."""
    batch_rate_limit_floor_s: float = BATCH_RATE_LIMIT_FLOOR_S
    get_rate_limit_floor_s: float = GET_RATE_LIMIT_FLOOR_S
    get_max_rate_limit_wait: float = 60.0
    """In-process 429 wait allowed in total for one GET unless the caller says otherwise."""
    max_redirects: int = 5

    def rate_limit_budget(
        self, settings: DripConnectionSettings, max_total_wait: float, *, is_batch: bool
    ) -> RateLimitBudget:
        return RateLimitBudget(
            max_total_wait=max_total_wait,
            default_wait=settings.rate_limit_wait_seconds,
            floor=self.batch_rate_limit_floor_s if is_batch else self.get_rate_limit_floor_s,
            max_consecutive=self.max_rate_limit_retries,
        )
