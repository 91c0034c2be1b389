"""DripAsyncHook: the async twin of DripHook, for code on the triggerer's event loop.

Same connection settings, same retry policy, same 429 floors and caps, same answer handling
(:mod:`.exchange`) as the sync hook; only the transport differs (httpx). The connection is read
with ``BaseHook.aget_connection`` inside the triggerer, so a trigger serialises only the
connection id, never the token.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from airflow.sdk import BaseHook

from airflow_provider_drip.durations import to_seconds
from airflow_provider_drip.hooks import exchange
from airflow_provider_drip.hooks.drip import mask_settings
from airflow_provider_drip.hooks.exchange import Answer
from airflow_provider_drip.hooks.failures import (
    DEADLINE_MESSAGE,
    DeadlineExceeded,
    classify_httpx_exception,
    describe_exception,
)
from airflow_provider_drip.hooks.limits import RateLimitKnobs
from airflow_provider_drip.hooks.responses import RequestStatus
from airflow_provider_drip.hooks.retry import RetryPolicy, TransientFailure
from airflow_provider_drip.hooks.settings import DripConnectionSettings


class DripAsyncHook(RateLimitKnobs, BaseHook):
    """Async, authenticated access to one Drip account (request status checks).

    :param drip_conn_id: Airflow connection of type ``drip``.
    :param max_retries: retries after the first attempt of a request that is safe to resend.
    :param backoff_base: first backoff ceiling: a ``timedelta`` or seconds.
    :param backoff_max: cap of one backoff sleep: a ``timedelta`` or seconds.
    :param max_concurrency: connections kept open at once (status checks in flight).
    :param settings: ready-made settings instead of reading the Airflow connection.
    """

    conn_name_attr = "drip_conn_id"
    default_conn_name = "drip_default"
    conn_type = "drip"
    hook_name = "Drip (async)"

    def __init__(
        self,
        drip_conn_id: str = default_conn_name,
        *,
        max_retries: int = 5,
        backoff_base: float | timedelta = 1.0,
        backoff_max: float | timedelta = 60.0,
        max_concurrency: int = 8,
        settings: DripConnectionSettings | None = None,
    ) -> None:
        super().__init__()
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.drip_conn_id = settings.conn_id if settings is not None else drip_conn_id
        self.retry_policy = RetryPolicy(
            max_retries,
            to_seconds(backoff_base, "backoff_base"),
            to_seconds(backoff_max, "backoff_max"),
        )
        self.max_concurrency = max_concurrency
        self._settings = settings
        self._lock: asyncio.Lock | None = None
        self._client: httpx.AsyncClient | None = None
        self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self._random: Callable[[], float] = random.random

    async def aget_settings(self) -> DripConnectionSettings:
        """Settings from the connection, read once with ``aget_connection``; token masked."""
        async with self._once():
            if self._settings is None:
                conn = await BaseHook.aget_connection(self.drip_conn_id)
                self._settings = DripConnectionSettings.from_connection(conn)
                mask_settings(self._settings)
        return self._settings

    async def get_client(self) -> httpx.AsyncClient:
        """One pooled client per hook, built off the event loop (loading the CA bundle into an
        SSL context is 50-100 ms of blocking work, and every trigger shares the loop)."""
        settings = await self.aget_settings()
        async with self._once():
            if self._client is None:
                self._client = await self._build_client(settings)
        return self._client

    def _once(self) -> asyncio.Lock:
        """A lock on the running loop, so concurrent first requests build one client, not many
        (created lazily: a hook built outside a loop must not bind a lock to the wrong one)."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def _build_client(self, settings: DripConnectionSettings) -> httpx.AsyncClient:
        headers = settings.headers()
        headers.pop("Content-Type")  # set on requests that carry a body
        return await asyncio.to_thread(
            httpx.AsyncClient,
            headers=headers,
            timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
            limits=httpx.Limits(max_connections=self.max_concurrency),
            max_redirects=self.max_redirects,
            trust_env=True,
        )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> DripAsyncHook:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def get_conn(self) -> Any:  # BaseHook's abstract API; the async client needs a loop
        raise NotImplementedError("use 'await DripAsyncHook.get_client()'")

    def __repr__(self) -> str:
        where = ""
        if self._settings is not None:
            where = f", base_url={self._settings.base_url!r}"
        return f"DripAsyncHook(drip_conn_id={self.drip_conn_id!r}{where})"

    async def get_request_status(
        self, request_id: str, *, max_rate_limit_wait: float | timedelta | None = None
    ) -> RequestStatus:
        """Processing state of one v3 request id.

        :param max_rate_limit_wait: total in-process wait allowed on 429s before
            :class:`DripRateLimitError` (with ``retry_at``) is raised; default
            ``get_max_rate_limit_wait``. A trigger passes 0 to end its round and wait itself.
        """
        settings = await self.aget_settings()
        url = settings.request_status_url(quote(str(request_id), safe=""))
        limit = self.get_max_rate_limit_wait if max_rate_limit_wait is None else max_rate_limit_wait
        answer = await self._send("GET", url, max_rate_limit_wait=to_seconds(limit, "wait"))
        return exchange.request_status(answer, str(request_id))

    async def _send(
        self,
        method: str,
        url: str,
        *,
        max_rate_limit_wait: float,
        body: bytes | None = None,
        idempotent: bool = True,
        resource_name: str = "GET",
        record_count: int = 0,
    ) -> Answer:
        """Send until Drip gives a final answer, by the shared retry policy."""
        settings = await self.aget_settings()
        client = await self.get_client()
        where = f"{method} {urlsplit(url).path}"
        budget = self.rate_limit_budget(settings, max_rate_limit_wait, is_batch=body is not None)
        attempts = 0

        async def attempt() -> Answer:
            nonlocal attempts
            attempts += 1
            try:
                answer = await self._exchange(client, settings, method, url, body)
            except (httpx.HTTPError, DeadlineExceeded) as err:
                raise exchange.judge_failure(
                    classify_httpx_exception(err),
                    describe_exception(err),
                    where=where,
                    idempotent=idempotent,
                    resource=resource_name,
                    count=record_count,
                ) from err
            if answer.status == 429:
                attempts -= 1
            return exchange.judge_answer(
                answer,
                idempotent=idempotent,
                resource=resource_name,
                count=record_count,
                budget=budget,
            )

        try:
            return await self.retry_policy.acall(
                attempt, log=self.log, sleep=self._sleep, rand=self._random
            )
        except TransientFailure as err:
            raise exchange.retries_exhausted(
                where, attempts, self.retry_policy.max_retries, err.cause
            ) from None

    @staticmethod
    async def _exchange(
        client: httpx.AsyncClient,
        settings: DripConnectionSettings,
        method: str,
        url: str,
        body: bytes | None,
    ) -> Answer:
        """One exchange, read in full within the attempt's overall deadline."""
        headers = {"Content-Type": "application/json"} if body is not None else None
        try:
            async with asyncio.timeout(settings.attempt_deadline):
                response = await client.request(
                    method, url, content=body, headers=headers, follow_redirects=body is None
                )
        except TimeoutError:
            raise DeadlineExceeded(DEADLINE_MESSAGE) from None
        return Answer(
            status=response.status_code,
            headers=response.headers,
            text=settings.scrub(response.text),
            method=method,
            path=urlsplit(str(response.url)).path,
            scrub=settings.scrub,
        )
