"""DripHook: the synchronous half of the one HTTP layer (its async twin is DripAsyncHook).

It turns a ``drip`` connection into an authenticated ``requests`` session and sends batches with
the retry rules Drip's budget demands (50 batch requests per hour per account):

- never-sent failures (connection refused, connect timeout) and 500/502/503 are retried with
  exponential backoff and full jitter (the :class:`~.retry.RetryPolicy` shared with
  :class:`~.drip_async.DripAsyncHook`);
- a 429 is waited out in-process only while the waits, each floored and capped, fit the
  caller's ``max_rate_limit_wait`` in total, otherwise it becomes :class:`DripRateLimitError`
  (with ``retry_at``) so the operator can defer;
- a request that went out but got no answer (read timeout, dropped connection, 504, the
  attempt's overall deadline) is resent only for idempotent resources; for events and shopper
  activity it raises :class:`DripAmbiguousOutcomeError` instead of risking a duplicate;
- a 2xx counts only with the documented success body (:mod:`.batch_body`);
- a TLS failure is a configuration error, raised at once with what is likely wrong;
- other 4xx are :class:`DripAPIError` with Drip's parsed error body, never retried;
- server-supplied text is scrubbed of the token (``settings.scrub``) before anything keeps it.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cached_property
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from airflow.sdk import BaseHook
from urllib3 import exceptions as u3

from airflow_provider_drip.durations import to_seconds
from airflow_provider_drip.exceptions import (
    DripAPIError,
    DripError,
    DripErrorDetail,
)
from airflow_provider_drip.hooks import exchange
from airflow_provider_drip.hooks.exchange import Answer
from airflow_provider_drip.hooks.failures import (
    DEADLINE_MESSAGE,
    DeadlineExceeded,
    classify_exception,
    describe_exception,
)
from airflow_provider_drip.hooks.limits import RateLimitKnobs
from airflow_provider_drip.hooks.rate_limit import (
    parse_int_header,
    parse_rate_limit_reset,
    parse_retry_after,
)
from airflow_provider_drip.hooks.responses import BatchResponse, RequestStatus
from airflow_provider_drip.hooks.retry import RetryPolicy, TransientFailure
from airflow_provider_drip.hooks.settings import DripConnectionSettings
from airflow_provider_drip.hooks.watchdog import Deadline, DeadlineAdapter
from airflow_provider_drip.resources import (
    ACCOUNTS_PATH,
    MAX_BATCH_SIZE,
    SUBSCRIBER_PATH,
    BatchResource,
    get_resource,
)

GZIP_LEVEL = 5
"""Compression level of gzipped batches: most of level 9's ratio on JSON at a fraction of the
CPU time (the sync loop prepares the next batch while one is in flight)."""


def mask_settings(settings: DripConnectionSettings) -> None:
    """Register the token and its Authorization value with Airflow's log masker."""
    from airflow_provider_drip.compat import mask_secret

    mask_secret(settings.token)
    mask_secret(settings.authorization.split(" ", 1)[1])


class _DripAuth(requests.auth.AuthBase):
    """Adds the ``Authorization`` header per request.

    Set through ``Session.auth`` rather than ``Session.headers`` so requests' redirect handling
    (``rebuild_auth``) removes it when a redirect leaves the original host and never adds it back.
    """

    def __init__(self, value: str) -> None:
        self._value = value

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._value
        return request

    def __repr__(self) -> str:
        return "<DripAuth ***>"


def _read_environment_once(session: requests.Session, base_url: str) -> None:
    """Apply proxy and CA-bundle environment variables once instead of on every request.

    With ``trust_env`` requests re-reads the whole environment (proxies, ``NO_PROXY``, CA bundle,
    netrc) on every call: ~1 ms per request in an Airflow worker's large environment. All our
    requests go to one base URL, so the answer is the same each time. (Netrc is not wanted:
    the connection carries the credentials.)
    """
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False


@dataclass
class _Outcome:
    answer: Answer
    attempts: int
    rate_limit_waited_s: float


class DripHook(RateLimitKnobs, BaseHook):
    """Authenticated access to one Drip account.

    :param drip_conn_id: Airflow connection of type ``drip`` (login = account id, password = API
        token, host = optional base URL).
    :param max_retries: retries after the first attempt for failures known to be safe to resend.
        A 429 does not count against it.
    :param backoff_base: first backoff ceiling (doubles per retry, full jitter): a
        ``timedelta`` or seconds.
    :param backoff_max: cap of one backoff sleep: a ``timedelta`` or seconds.
    :param settings: ready-made settings instead of reading the Airflow connection (tests, the
        emulator CLI).
    """

    conn_name_attr = "drip_conn_id"
    default_conn_name = "drip_default"
    conn_type = "drip"
    hook_name = "Drip"

    keepalive_idle_s: float = 20.0
    """Pooled connections idle longer than this are dropped before the next request: servers
    close idle keep-alive connections, and a request written into one that the server is closing
    looks like "sent, no answer" — ambiguous for events. A fresh connection avoids that."""
    pool_maxsize: int = 4

    def __init__(
        self,
        drip_conn_id: str = default_conn_name,
        *,
        max_retries: int = 5,
        backoff_base: float | timedelta = 1.0,
        backoff_max: float | timedelta = 60.0,
        settings: DripConnectionSettings | None = None,
    ) -> None:
        super().__init__()
        self.drip_conn_id = settings.conn_id if settings is not None else drip_conn_id
        self.max_retries = max_retries
        self.backoff_base = to_seconds(backoff_base, "backoff_base")
        self.backoff_max = to_seconds(backoff_max, "backoff_max")
        self.retry_policy  # noqa: B018 - validates max_retries now, not at the first request
        self._settings = settings
        self._session: requests.Session | None = None
        self._last_used: float | None = None
        self._sleep: Callable[[float], None] = time.sleep
        self._random: Callable[[], float] = random.random
        self._clock: Callable[[], float] = time.monotonic

    # ------------------------------------------------------------------ connection and session

    @cached_property
    def settings(self) -> DripConnectionSettings:
        """Settings parsed from the connection (once); the token is registered for masking."""
        settings = self._settings
        if settings is None:
            settings = DripConnectionSettings.from_connection(
                self.get_connection(self.drip_conn_id)
            )
        mask_settings(settings)
        return settings

    @property
    def retry_policy(self) -> RetryPolicy:
        """The shared retry policy, from this hook's (adjustable) attributes."""
        return RetryPolicy(
            self.max_retries,
            to_seconds(self.backoff_base, "backoff_base"),
            to_seconds(self.backoff_max, "backoff_max"),
        )

    @property
    def account_id(self) -> str:
        return self.settings.account_id

    @property
    def session(self) -> requests.Session:
        """One pooled session per hook; ``Authorization`` is attached per request."""
        if self._session is None:
            session = requests.Session()
            adapter = DeadlineAdapter(
                pool_connections=2, pool_maxsize=self.pool_maxsize, max_retries=0
            )
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            headers = self.settings.headers()
            headers.pop("Authorization", None)
            headers.pop("Content-Type", None)  # set on requests that carry a body
            session.headers.update(headers)
            session.auth = _DripAuth(self.settings.authorization)
            session.max_redirects = self.max_redirects
            _read_environment_once(session, self.settings.base_url)
            self._session = session
        return self._session

    def get_conn(self) -> requests.Session:
        return self.session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
        self._last_used = None

    def __enter__(self) -> DripHook:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        settings = self._settings or self.__dict__.get("settings")  # never loads the connection
        where = ""
        if settings is not None:
            where = f", base_url={settings.base_url!r}, account_id={settings.account_id!r}"
        return f"DripHook(drip_conn_id={self.drip_conn_id!r}{where})"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form's behaviour, read from ``get_provider_info()`` (single source)."""
        from airflow_provider_drip import get_provider_info

        for entry in get_provider_info().get("connection-types", []):
            if entry.get("connection-type") == cls.conn_type:
                behaviour = entry.get("ui-field-behaviour", {})
                return {
                    "hidden_fields": list(behaviour.get("hidden-fields", [])),
                    "relabeling": dict(behaviour.get("relabeling", {})),
                    "placeholders": dict(behaviour.get("placeholders", {})),
                }
        return {"hidden_fields": [], "relabeling": {}, "placeholders": {}}

    # ------------------------------------------------------------------ batches

    def post_batch(
        self,
        resource: str | BatchResource,
        records: Sequence[Mapping[str, Any]] | None = None,
        *,
        body: bytes | None = None,
        record_count: int | None = None,
        max_rate_limit_wait: float | timedelta = 0.0,
    ) -> BatchResponse:
        """Send one batch and return what Drip answered.

        Give either ``records`` (serialised here as compact JSON in the resource's envelope) or a
        pre-serialised ``body`` with its ``record_count``.

        :raises DripRateLimitError: 429s whose waits would exceed ``max_rate_limit_wait`` in
            total (a ``timedelta`` or seconds), or too many 429s in a row.
        :raises DripAmbiguousOutcomeError: a non-idempotent batch got no answer; not resent.
        :raises DripServerError: retries exhausted on failures that were safe to retry.
        :raises DripAPIError: Drip refused the batch (401/403/404/422, a redirect, ...).
        """
        started = self._clock()
        res = resource if isinstance(resource, BatchResource) else get_resource(resource)
        payload, count = self._batch_body(res, records, body, record_count)
        url = self.settings.url(res.path(self.account_id))
        if self.settings.gzip_requests:
            payload = gzip.compress(payload, compresslevel=GZIP_LEVEL, mtime=0)
        outcome = self._send(
            "POST",
            url,
            body=payload,
            idempotent=res.idempotent,
            resource_name=res.name,
            record_count=count,
            max_rate_limit_wait=to_seconds(max_rate_limit_wait, "max_rate_limit_wait"),
            allow_redirects=False,
        )
        return self._batch_response(res, count, outcome, self._clock() - started)

    def _batch_response(
        self, res: BatchResource, count: int, outcome: _Outcome, elapsed_s: float
    ) -> BatchResponse:
        answer = outcome.answer
        if not 200 <= answer.status < 300:
            raise exchange.api_error(answer)
        request_ids = exchange.accepted_request_ids(answer, res, count, self.log)
        now = datetime.now(timezone.utc)
        headers = answer.headers
        return BatchResponse(
            status=answer.status,
            resource=res.name,
            record_count=count,
            request_ids=request_ids,
            rate_limit_limit=parse_int_header(headers, "X-RateLimit-Limit"),
            rate_limit_remaining=parse_int_header(headers, "X-RateLimit-Remaining"),
            retry_after=parse_retry_after(answer.header("Retry-After"), now),
            rate_limit_reset_at=parse_rate_limit_reset(answer.header("X-RateLimit-Reset"), now),
            attempts=outcome.attempts,
            rate_limit_waited_s=outcome.rate_limit_waited_s,
            elapsed_s=elapsed_s,
        )

    @staticmethod
    def _batch_body(
        res: BatchResource,
        records: Sequence[Mapping[str, Any]] | None,
        body: bytes | None,
        record_count: int | None,
    ) -> tuple[bytes, int]:
        if (records is None) == (body is None):
            raise ValueError("post_batch needs exactly one of records or body")
        if records is not None:
            count = len(records)
            payload = json.dumps(
                res.envelope(records), separators=(",", ":"), allow_nan=False
            ).encode("utf-8")
        else:
            if record_count is None:
                raise ValueError("post_batch(body=...) needs record_count")
            count = record_count
            payload = bytes(body)  # type: ignore[arg-type]
        if not 1 <= count <= MAX_BATCH_SIZE:
            raise ValueError(
                f"A Drip batch holds 1 to {MAX_BATCH_SIZE} records; got {count} for {res.name}"
            )
        return payload, count

    # ------------------------------------------------------------------ reads

    def get_request_status(self, request_id: str) -> RequestStatus:
        """Processing state of one v3 request id (path: docs/connection.md)."""
        url = self.settings.request_status_url(quote(str(request_id), safe=""))
        return exchange.request_status(self._get(url, not_found_ok=True), str(request_id))

    def list_accounts(self) -> list[dict[str, Any]]:
        """Accounts the token can access (``GET /v2/accounts``)."""
        body = exchange.json_body(self._get(self.settings.url(ACCOUNTS_PATH)))
        accounts = body.get("accounts") if isinstance(body, dict) else None
        if not isinstance(accounts, list):
            raise DripAPIError(
                200,
                [DripErrorDetail(code="unexpected_body", message="no 'accounts' list")],
                method="GET",
                path=ACCOUNTS_PATH,
            )
        return accounts

    def get_subscriber(self, id_or_email: str) -> dict[str, Any] | None:
        """One subscriber by Drip id or email, or None when Drip does not know it."""
        path = SUBSCRIBER_PATH.format(
            account_id=self.account_id, id_or_email=quote(str(id_or_email), safe="")
        )
        answer = self._get(self.settings.url(path), not_found_ok=True)
        if answer.status == 404:
            return None
        body = exchange.json_body(answer)
        subscribers = body.get("subscribers") if isinstance(body, dict) else None
        if isinstance(subscribers, list) and subscribers:
            return subscribers[0]
        return None

    def test_connection(self) -> tuple[bool, str]:
        """Check the token and that it can reach the connection's account. Never raises."""
        try:
            settings = self.settings
            accounts = self.list_accounts()
        except DripAPIError as err:
            if err.status in (401, 403):
                return False, f"Drip rejected the API token (HTTP {err.status}): {err}"
            return False, str(err)
        except DripError as err:
            return False, str(err)
        except Exception as err:  # the UI shows the message; never let it raise
            return False, describe_exception(err)
        ids = [str(a.get("id")) for a in accounts if isinstance(a, dict)]
        if settings.account_id in ids:
            name = next(
                (a.get("name") for a in accounts if str(a.get("id")) == settings.account_id), ""
            )
            label = f" ({name})" if name else ""
            return True, f"Connected to Drip account {settings.account_id}{label}"
        known = ", ".join(ids[:20]) or "none"
        return False, (
            f"The API token is valid but cannot access account {settings.account_id!r}; "
            f"accounts it can access: {known}"
        )

    # ------------------------------------------------------------------ HTTP core

    def _get(self, url: str, *, not_found_ok: bool = False) -> Answer:
        answer = self._send(
            "GET",
            url,
            body=None,
            idempotent=True,
            resource_name="GET",
            record_count=0,
            max_rate_limit_wait=self.get_max_rate_limit_wait,
            allow_redirects=True,
        ).answer
        if 200 <= answer.status < 300 or (not_found_ok and answer.status == 404):
            return answer
        raise exchange.api_error(answer)

    def _drop_idle_connections(self) -> None:
        if self._last_used is None or self._session is None:
            return
        idle = self._clock() - self._last_used
        if idle > self.keepalive_idle_s:
            for adapter in self._session.adapters.values():
                adapter.close()  # clears the pools; the adapter opens new connections on demand
            self.log.debug("Dropped pooled connections idle for %.0fs", idle)

    def _send(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None,
        idempotent: bool,
        resource_name: str,
        record_count: int,
        max_rate_limit_wait: float,
        allow_redirects: bool,
    ) -> _Outcome:
        """Send until Drip gives a final answer, by the shared retry policy."""
        settings = self.settings
        path = urlsplit(url).path
        where = f"{method} {path}"
        budget = self.rate_limit_budget(settings, max_rate_limit_wait, is_batch=body is not None)
        attempts = 0

        def attempt() -> Answer:
            nonlocal attempts
            self._drop_idle_connections()
            attempts += 1
            sent_at = self._clock()
            try:
                answer = self._exchange(method, url, body, allow_redirects)
            except (requests.RequestException, u3.HTTPError, DeadlineExceeded) as err:
                self._last_used = self._clock()
                cause = describe_exception(err)
                self.log.debug("%s failed after %.2fs: %s", where, self._last_used - sent_at, cause)
                raise exchange.judge_failure(
                    classify_exception(err),
                    cause,
                    where=where,
                    idempotent=idempotent,
                    resource=resource_name,
                    count=record_count,
                ) from err
            self._last_used = self._clock()
            self.log.debug(
                "%s -> HTTP %s in %.2fs (attempt %d)",
                where,
                answer.status,
                self._last_used - sent_at,
                attempts,
            )
            if answer.status == 429:
                attempts -= 1  # a 429 is not an attempt: Drip did not consider the request
            return exchange.judge_answer(
                answer,
                idempotent=idempotent,
                resource=resource_name,
                count=record_count,
                budget=budget,
            )

        try:
            answer = self.retry_policy.call(
                attempt, log=self.log, sleep=self._sleep, rand=self._random
            )
        except TransientFailure as err:
            raise exchange.retries_exhausted(where, attempts, self.max_retries, err.cause) from None
        return _Outcome(answer, attempts, budget.waited)

    def _body_headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.settings.gzip_requests:
            headers["Content-Encoding"] = "gzip"
        return headers

    def _exchange(self, method: str, url: str, body: bytes | None, allow_redirects: bool) -> Answer:
        """One HTTP exchange, status line to last body byte within the attempt's deadline."""
        settings = self.settings
        with Deadline(settings.attempt_deadline) as deadline:
            try:
                response = self.session.request(
                    method,
                    url,
                    data=body,
                    headers=self._body_headers() if body is not None else None,
                    timeout=(settings.connect_timeout, settings.read_timeout),
                    allow_redirects=allow_redirects,
                    stream=True,
                )
                try:
                    content = response.raw.read(decode_content=True)
                except BaseException:
                    response.close()
                    raise
            except (requests.RequestException, u3.HTTPError) as err:
                if deadline.fired:
                    raise DeadlineExceeded(DEADLINE_MESSAGE) from err
                raise
            deadline.finish()  # before the connection goes back to the pool
            if deadline.fired:
                # A cut socket reads as a clean end of headers or body, so what was read may be
                # a truncated answer that looks complete: never trust it.
                response.close()
                raise DeadlineExceeded(DEADLINE_MESSAGE)
            response.raw.release_conn()
        text = content.decode(response.encoding or "utf-8", errors="replace")
        return Answer(
            status=response.status_code,
            headers=response.headers,
            text=settings.scrub(text),
            method=method,
            path=urlsplit(response.url).path,
            scrub=settings.scrub,
        )
