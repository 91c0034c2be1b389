"""DripRequestStatusTrigger: wait for Drip request ids on the triggerer, without a worker slot.

Runs on the triggerer's event loop, so everything here is async: httpx for HTTP, asyncio.sleep for
waits, ``BaseHook.aget_connection`` for the connection (the token is read inside the triggerer,
never serialised into the trigger's kwargs). Which ids to check, when a round stops early, the
summary and the failure text all come from :mod:`.status_poll`, shared with
the sensor's poke path.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from airflow.sdk import BaseHook
from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_drip.exceptions import (
    DripAPIError,
    DripError,
    DripErrorDetail,
    DripServerError,
)
from airflow_provider_drip.hooks.responses import RequestStatus, parse_error_details
from airflow_provider_drip.hooks.retry import RETRYABLE_STATUSES, backoff_delay, rate_limit_wait
from airflow_provider_drip.hooks.settings import DripConnectionSettings
from airflow_provider_drip.triggers.status_poll import (
    PollRound,
    StatusTracker,
    progress_line,
    terminal_error_message,
)


class _RateLimited(Exception):
    """A 429 on a status check: stop the round and wait ``wait`` seconds."""

    def __init__(self, wait: float, source: str) -> None:
        super().__init__(f"rate limited for {wait:.1f}s (from {source})")
        self.wait = wait
        self.source = source


class DripRequestStatusTrigger(BaseTrigger):
    """Poll Drip request ids until all are completed, any failed, or an error stops it.

    Yields exactly one event. ``status`` is ``"success"`` (all completed), ``"failed"`` (Drip
    failed some ids; ``message`` names them with Drip's errors) or ``"error"`` (unknown ids or a
    missing status endpoint, bad credentials, Drip unavailable after retries; ``retryable`` says
    whether running the task again may help). Every event carries ``summary`` (counts by status,
    failed ids with errors) and ``message``.

    :param drip_conn_id: the ``drip`` connection; read inside the triggerer.
    :param request_ids: ids still to wait for, in submission order.
    :param poll_interval: seconds between polling rounds.
    :param already_completed: ids the sensor already saw completed (added to the counts).
    :param max_concurrency: status requests in flight at once.
    :param probe_window: end a round after this many consecutive still-waiting ids (``None``:
        check every pending id every round).
    :param max_retries: retries of one status request on 5xx / transport errors.
    """

    def __init__(
        self,
        drip_conn_id: str,
        request_ids: Sequence[str],
        poll_interval: float = 60.0,
        already_completed: int = 0,
        max_concurrency: int = 8,
        probe_window: int | None = 16,
        max_retries: int = 5,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
    ) -> None:
        super().__init__()
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.drip_conn_id = drip_conn_id
        self.request_ids = [str(i) for i in request_ids]
        self.poll_interval = float(poll_interval)
        self.already_completed = int(already_completed)
        self.max_concurrency = int(max_concurrency)
        self.probe_window = probe_window
        self.max_retries = int(max_retries)
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)

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
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        tracker = StatusTracker(list(self.request_ids), already_completed=self.already_completed)
        try:
            settings = await self._settings()
        except Exception as err:  # bad or missing connection: nothing to poll with
            yield self._error_event(tracker, f"Cannot read connection {self.drip_conn_id!r}: {err}")
            return
        timeout = httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout)
        limits = httpx.Limits(max_connections=self.max_concurrency)
        # Building the client loads the CA bundle into an SSL context (50-100 ms of blocking
        # work): do it off the event loop, which every trigger in the triggerer shares.
        client = await asyncio.to_thread(
            httpx.AsyncClient,
            headers=settings.headers(),
            timeout=timeout,
            limits=limits,
            follow_redirects=False,
        )
        async with client:
            while True:
                try:
                    wait = await self._round(client, settings, tracker)
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

    async def _settings(self) -> DripConnectionSettings:
        conn = await BaseHook.aget_connection(self.drip_conn_id)
        return DripConnectionSettings.from_connection(conn)

    async def _round(
        self, client: httpx.AsyncClient, settings: DripConnectionSettings, tracker: StatusTracker
    ) -> float | None:
        """Check pending ids chunk by chunk; a 429 ends the round and returns its wait."""
        semaphore = asyncio.Semaphore(self.max_concurrency)

        async def bounded(request_id: str) -> RequestStatus:
            async with semaphore:
                return await self._fetch(client, settings, request_id)

        rnd = PollRound(tracker.pending_ids(), self.max_concurrency, self.probe_window)
        while chunk := rnd.next_chunk():
            results = await asyncio.gather(*(bounded(i) for i in chunk), return_exceptions=True)
            error = tracker.record_results(chunk, results)
            rnd.observe_results(results)
            if isinstance(error, _RateLimited):
                return error.wait
            if error is not None:
                raise error
        return None

    async def _fetch(
        self, client: httpx.AsyncClient, settings: DripConnectionSettings, request_id: str
    ) -> RequestStatus:
        """One status check, retrying 5xx and transport errors with backoff (GETs are safe)."""
        url = settings.request_status_url(quote(request_id, safe=""))
        path = urlsplit(url).path
        retries = 0
        while True:
            try:
                response = await client.get(url)
            except httpx.TransportError as err:
                cause = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return _parse_status(request_id, response, path)
                if status == 429:
                    wait, _, source = rate_limit_wait(
                        response.headers,
                        datetime.now(timezone.utc),
                        settings.rate_limit_wait_seconds,
                    )
                    raise _RateLimited(wait, source)
                if status not in RETRYABLE_STATUSES:
                    raise _api_error(response, path)
                cause = f"HTTP {status}"
            if retries >= self.max_retries:
                raise DripServerError(
                    f"Drip GET {path} failed after {retries + 1} attempt(s); last error: {cause}"
                )
            delay = backoff_delay(retries, self.backoff_base, self.backoff_max, random.random)
            self.log.warning("Drip GET %s failed (%s); retrying in %.1fs", path, cause, delay)
            await asyncio.sleep(delay)
            retries += 1

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


def _parse_status(request_id: str, response: httpx.Response, path: str) -> RequestStatus:
    try:
        return RequestStatus.from_json(request_id, response.json())
    except ValueError as err:
        raise DripAPIError(
            response.status_code,
            [DripErrorDetail(code="unexpected_body", message=str(err))],
            method="GET",
            path=path,
        ) from None


def _api_error(response: httpx.Response, path: str) -> DripAPIError:
    try:
        body = response.json()
    except ValueError:
        body = None
    errors = parse_error_details(body)
    return DripAPIError(
        response.status_code,
        errors,
        method="GET",
        path=path,
        body_text="" if errors else response.text[:500],
    )
