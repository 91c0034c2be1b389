"""DripRequestStatusTrigger: wait for Drip request ids on the triggerer, without a worker slot.

Runs on the triggerer's event loop: all HTTP goes through :class:`DripAsyncHook` (which reads the
connection with ``BaseHook.aget_connection``, so the token is never serialised into the
trigger's kwargs). Which ids to check, when a round stops early, the summary and the failure
text all come from :mod:`.status_poll`, shared with the sensor's poke path.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_drip.durations import to_seconds
from airflow_provider_drip.exceptions import DripAPIError, DripError, DripRateLimitError
from airflow_provider_drip.hooks.drip_async import DripAsyncHook
from airflow_provider_drip.hooks.responses import RequestStatus
from airflow_provider_drip.hooks.settings import DripConnectionSettings
from airflow_provider_drip.triggers.status_poll import (
    StatusTracker,
    make_round,
    progress_line,
    round_allowance,
    terminal_error_message,
)


class DripRequestStatusTrigger(BaseTrigger):
    """Poll Drip request ids until all are completed, any failed, or an error stops it.

    Yields exactly one event. ``status`` is ``"success"`` (all completed), ``"failed"`` (Drip
    failed some ids; ``message`` names them with Drip's errors) or ``"error"`` (unknown ids or a
    missing status endpoint, bad credentials, Drip unavailable after retries; ``retryable`` says
    whether running the task again may help). Every event carries ``summary`` (counts by status,
    failed ids with errors) and ``message``.

    :param drip_conn_id: the ``drip`` connection; read inside the triggerer.
    :param request_ids: ids still to wait for, in submission order.
    :param poll_interval: time between polling rounds (a ``timedelta`` or seconds; durations
        are kept as seconds, so the serialised kwargs stay plain JSON).
    :param already_completed: ids the sensor already saw completed (added to the counts).
    :param max_concurrency: status requests in flight at once.
    :param probe_window: end a round after this many consecutive still-waiting ids (``None``:
        check every pending id every round).
    :param max_retries: retries of one status request on 5xx / transport errors.
    :param backoff_base: first backoff ceiling of those retries (``timedelta`` or seconds).
    :param backoff_max: cap of one backoff sleep (``timedelta`` or seconds).
    :param sample_batches: sample mode: the ids to check per batch, each batch's last id last
        (see ``status_poll.SampleRound``); None checks every id in order.
    :param max_requests_per_hour: pace status checks to this share of Drip's hourly budget.
    """

    def __init__(
        self,
        drip_conn_id: str,
        request_ids: Sequence[str],
        poll_interval: float | timedelta = 60.0,
        already_completed: int = 0,
        max_concurrency: int = 8,
        probe_window: int | None = 16,
        max_retries: int = 5,
        backoff_base: float | timedelta = 1.0,
        backoff_max: float | timedelta = 60.0,
        sample_batches: Sequence[Sequence[str]] | None = None,
        max_requests_per_hour: float | None = None,
    ) -> None:
        super().__init__()
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.drip_conn_id = drip_conn_id
        self.request_ids = [str(i) for i in request_ids]
        self.poll_interval = to_seconds(poll_interval, "poll_interval")
        self.already_completed = int(already_completed)
        self.max_concurrency = int(max_concurrency)
        self.probe_window = probe_window
        self.max_retries = int(max_retries)
        self.backoff_base = to_seconds(backoff_base, "backoff_base")
        self.backoff_max = to_seconds(backoff_max, "backoff_max")
        self.sample_batches = (
            None if sample_batches is None else [[str(i) for i in b] for b in sample_batches]
        )
        self.max_requests_per_hour = max_requests_per_hour

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Classpath and kwargs; only the connection id, never the token."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "drip_conn_id": self.drip_conn_id,
                "request_ids": list(self.request_ids),
                "poll_interval": self.poll_interval,
                "already_completed": self.already_completed,
                "max_concurrency": self.max_concurrency,
                "probe_window": self.probe_window,
                "max_retries": self.max_retries,
                "backoff_base": self.backoff_base,
                "backoff_max": self.backoff_max,
                "sample_batches": self.sample_batches,
                "max_requests_per_hour": self.max_requests_per_hour,
            },
        )

    def hook(self) -> DripAsyncHook:
        return DripAsyncHook(
            self.drip_conn_id,
            max_retries=self.max_retries,
            backoff_base=self.backoff_base,
            backoff_max=self.backoff_max,
            max_concurrency=self.max_concurrency,
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        tracker = StatusTracker(list(self.request_ids), already_completed=self.already_completed)
        hook = self.hook()
        try:
            settings = await hook.aget_settings()
        except Exception as err:  # bad or missing connection: nothing to poll with
            yield self._error_event(tracker, f"Cannot read connection {self.drip_conn_id!r}: {err}")
            return
        async with hook:
            while True:
                try:
                    wait = await self._round(hook, tracker)
                except DripAPIError as err:
                    yield self._error_event(tracker, str(err), retryable=err.status >= 500)
                    return
                except DripError as err:
                    yield self._error_event(tracker, str(err), retryable=True)
                    return
                event = self._final_event(tracker, settings)
                if event is not None:
                    yield event
                    return
                self.log.info("Drip request status: %s", progress_line(tracker.summary()))
                if wait is not None:
                    self.log.info("Drip rate limited status checks; waiting %.1fs", wait)
                await asyncio.sleep(max(self.poll_interval, wait or 0.0))

    async def _round(self, hook: DripAsyncHook, tracker: StatusTracker) -> float | None:
        """Check pending ids chunk by chunk; a 429 ends the round and returns its wait."""
        semaphore = asyncio.Semaphore(self.max_concurrency)

        async def check(request_id: str) -> RequestStatus:
            async with semaphore:
                return await hook.get_request_status(request_id, max_rate_limit_wait=0)

        rnd = make_round(
            tracker,
            sample=self.sample_batches,
            chunk_size=self.max_concurrency,
            probe_window=self.probe_window,
            limit=round_allowance(self.max_requests_per_hour, self.poll_interval),
        )
        while chunk := rnd.next_chunk():
            results = await asyncio.gather(*(check(i) for i in chunk), return_exceptions=True)
            error = tracker.record_results(chunk, results)
            rnd.observe_results(results)
            if isinstance(error, DripRateLimitError):
                return max(0.0, (error.retry_at - datetime.now(timezone.utc)).total_seconds())
            if error is not None:
                raise error
        return None

    def _final_event(
        self, tracker: StatusTracker, settings: DripConnectionSettings
    ) -> TriggerEvent | None:
        summary = tracker.summary()
        message = terminal_error_message(
            tracker,
            conn_id=settings.conn_id,
            account_id=settings.account_id,
            status_path=settings.request_status_path,
        )
        if tracker.failed:
            return TriggerEvent({"status": "failed", "summary": summary, "message": message})
        if message is not None:
            return self._error_event(tracker, message)
        if tracker.done:
            return TriggerEvent(
                {"status": "success", "summary": summary, "message": progress_line(summary)}
            )
        return None

    @staticmethod
    def _error_event(tracker: StatusTracker, message: str, retryable: bool = False) -> TriggerEvent:
        return TriggerEvent(
            {
                "status": "error",
                "summary": tracker.summary(),
                "message": message,
                "retryable": retryable,
            }
        )
