"""DripHook: the one place that talks HTTP to Drip.

It turns a ``drip`` connection into an authenticated ``requests`` session and sends batches with
the retry rules Drip's budget demands (50 batch requests per hour per account):

- never-sent failures (connection refused, connect timeout) and 500/502/503 are retried with
  exponential backoff and full jitter;
- a 429 is waited out in-process only when the wait fits the caller's ``max_rate_limit_wait``,
  otherwise it becomes :class:`DripRateLimitError` (with ``retry_at``) so the operator can defer;
- a request that went out but got no answer (read timeout, dropped connection, 504) is resent
  only for idempotent resources; for events and shopper activity it raises
  :class:`DripAmbiguousOutcomeError` instead of risking a duplicate;
- other 4xx are :class:`DripAPIError` with Drip's parsed error body, never retried.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from airflow.sdk import BaseHook
from requests.adapters import HTTPAdapter

from airflow_provider_drip.exceptions import (
    DripAmbiguousOutcomeError,
    DripAPIError,
    DripError,
    DripErrorDetail,
    DripRateLimitError,
    DripServerError,
)
from airflow_provider_drip.hooks.responses import BatchResponse, RequestStatus, parse_error_details
from airflow_provider_drip.hooks.retry import (
    GATEWAY_TIMEOUT_STATUSES,
    RETRYABLE_STATUSES,
    FailureKind,
    backoff_delay,
    classify_exception,
    describe_exception,
    parse_int_header,
    parse_rate_limit_reset,
    parse_retry_after,
    rate_limit_wait,
)
from airflow_provider_drip.hooks.settings import DripConnectionSettings
from airflow_provider_drip.resources import (
    ACCOUNTS_PATH,
    MAX_BATCH_SIZE,
    SUBSCRIBER_PATH,
    BatchResource,
    get_resource,
)


def _mask_secret(secret: str) -> None:
    """Register ``secret`` with Airflow's log masker (location moved between 3.x releases)."""
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # pragma: no cover - Airflow 3.0
        from airflow.sdk.execution_time.secrets_masker import mask_secret
    mask_secret(secret)


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
    response: requests.Response
    attempts: int
    rate_limit_waited_s: float


class DripHook(BaseHook):
    """Authenticated access to one Drip account.

    :param drip_conn_id: Airflow connection of type ``drip`` (login = account id, password = API
        token, host = optional base URL).
    :param max_retries: retries after the first attempt for failures known to be safe to resend.
        A 429 does not count against it.
    :param backoff_base: first backoff ceiling in seconds (doubles per retry, full jitter).
    :param backoff_max: cap of one backoff sleep in seconds.
    :param settings: ready-made settings instead of reading the Airflow connection (tests, the
        emulator CLI, the trigger).
    """

    conn_name_attr = "drip_conn_id"
    default_conn_name = "drip_default"
    conn_type = "drip"
    hook_name = "Drip"

    keepalive_idle_s: float = 20.0
    """Pooled connections idle longer than this are dropped before the next request: servers
    close idle keep-alive connections, and a request written into one that the server is closing
    looks like "sent, no answer" — ambiguous for events. A fresh connection avoids that."""
    max_rate_limit_retries: int = 20
    """Upper bound on consecutive 429 waits for one request, whatever ``Retry-After`` says."""
    get_max_rate_limit_wait: float = 60.0
    """In-process 429 wait allowed for GETs (status, accounts, subscriber look-ups)."""
    max_redirects: int = 5
    pool_maxsize: int = 4

    def __init__(
        self,
        drip_conn_id: str = default_conn_name,
        *,
        max_retries: int = 5,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        settings: DripConnectionSettings | None = None,
    ) -> None:
        super().__init__()
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.drip_conn_id = settings.conn_id if settings is not None else drip_conn_id
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
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
        _mask_secret(settings.token)
        _mask_secret(settings.authorization.split(" ", 1)[1])
        return settings

    @property
    def account_id(self) -> str:
        return self.settings.account_id

    @property
    def session(self) -> requests.Session:
        """One pooled session per hook; ``Authorization`` is attached per request."""
        if self._session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=2, pool_maxsize=self.pool_maxsize, max_retries=0)
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
        max_rate_limit_wait: float = 0.0,
    ) -> BatchResponse:
        """Send one batch and return what Drip answered.

        Give either ``records`` (serialised here as compact JSON in the resource's envelope) or a
        pre-serialised ``body`` with its ``record_count``.

        :raises DripRateLimitError: a 429 whose wait exceeds ``max_rate_limit_wait`` in total.
        :raises DripAmbiguousOutcomeError: a non-idempotent batch got no answer; not resent.
        :raises DripServerError: retries exhausted on failures that were safe to retry.
        :raises DripAPIError: Drip refused the batch (401/403/404/422, a redirect, ...).
        """
        started = self._clock()
        res = resource if isinstance(resource, BatchResource) else get_resource(resource)
        payload, count = self._batch_body(res, records, body, record_count)
        url = self.settings.url(res.path(self.account_id))
        outcome = self._send(
            "POST",
            url,
            body=payload,
            idempotent=res.idempotent,
            resource_name=res.name,
            record_count=count,
            max_rate_limit_wait=max_rate_limit_wait,
            allow_redirects=False,
        )
        response = outcome.response
        if not 200 <= response.status_code < 300:
            raise self._api_error(response, "POST")
        if response.status_code != res.success_status:
            self.log.warning(
                "Drip answered HTTP %s to a %s batch (expected %s); treating it as accepted",
                response.status_code,
                res.name,
                res.success_status,
            )
        request_ids = self._request_ids(response) if res.returns_request_ids else []
        now = datetime.now(timezone.utc)
        headers = response.headers
        return BatchResponse(
            status=response.status_code,
            resource=res.name,
            record_count=count,
            request_ids=request_ids,
            rate_limit_limit=parse_int_header(headers, "X-RateLimit-Limit"),
            rate_limit_remaining=parse_int_header(headers, "X-RateLimit-Remaining"),
            retry_after=parse_retry_after(headers.get("Retry-After"), now),
            rate_limit_reset_at=parse_rate_limit_reset(headers.get("X-RateLimit-Reset"), now),
            attempts=outcome.attempts,
            rate_limit_waited_s=outcome.rate_limit_waited_s,
            elapsed_s=self._clock() - started,
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

    def _request_ids(self, response: requests.Response) -> list[str]:
        try:
            body = response.json()
        except ValueError:
            self.log.warning("Drip accepted the batch but its body is not JSON; no request ids")
            return []
        ids = body.get("request_ids") if isinstance(body, dict) else None
        if not isinstance(ids, list):
            self.log.warning("Drip accepted the batch but returned no request_ids list")
            return []
        return [str(i) for i in ids]

    # ------------------------------------------------------------------ reads

    def get_request_status(self, request_id: str) -> RequestStatus:
        """Processing state of one v3 request id (the path is configurable, see README)."""
        url = self.settings.request_status_url(quote(str(request_id), safe=""))
        response = self._get(url, not_found_ok=True)
        if response.status_code == 404:
            error = self._api_error(response, "GET")
            error.errors.append(
                DripErrorDetail(
                    code="not_found",
                    message=(
                        f"request id {request_id!r} is unknown to Drip, or the request status "
                        f"endpoint is not available at {urlsplit(url).path}. Drip has not "
                        "published that endpoint's path: set it with the connection extra "
                        "'request_status_path' (placeholders {account_id} and {request_id})"
                    ),
                )
            )
            raise DripAPIError(
                404, error.errors, method="GET", path=error.path, body_text=error.body_text
            )
        body = self._json(response, "GET")
        try:
            return RequestStatus.from_json(str(request_id), body)
        except ValueError as err:
            raise DripAPIError(
                response.status_code,
                [DripErrorDetail(code="unexpected_body", message=str(err))],
                method="GET",
                path=urlsplit(url).path,
            ) from None

    def list_accounts(self) -> list[dict[str, Any]]:
        """Accounts the token can access (``GET /v2/accounts``)."""
        body = self._json(self._get(self.settings.url(ACCOUNTS_PATH)), "GET")
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
        response = self._get(self.settings.url(path), not_found_ok=True)
        if response.status_code == 404:
            return None
        body = self._json(response, "GET")
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

    def _get(self, url: str, *, not_found_ok: bool = False) -> requests.Response:
        outcome = self._send(
            "GET",
            url,
            body=None,
            idempotent=True,
            resource_name="GET",
            record_count=0,
            max_rate_limit_wait=self.get_max_rate_limit_wait,
            allow_redirects=True,
        )
        response = outcome.response
        if 200 <= response.status_code < 300 or (not_found_ok and response.status_code == 404):
            return response
        raise self._api_error(response, "GET")

    def _json(self, response: requests.Response, method: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise DripAPIError(
                response.status_code,
                [DripErrorDetail(code="unexpected_body", message="response body is not JSON")],
                method=method,
                path=urlsplit(response.url).path,
                body_text=response.text[:500],
            ) from None

    def _api_error(self, response: requests.Response, method: str) -> DripAPIError:
        try:
            body = response.json()
        except ValueError:
            body = None
        errors = parse_error_details(body)
        if 300 <= response.status_code < 400:
            location = urlsplit(response.headers.get("Location", ""))
            target = f"{location.scheme}://{location.netloc}{location.path}".lstrip(":/")
            errors.append(
                DripErrorDetail(
                    code="redirect",
                    message=(
                        f"Drip answered with a redirect to {target or 'an unknown location'}; "
                        "batches are not followed across redirects (the body and credentials "
                        "would go elsewhere). Set the connection host to the API base URL itself"
                    ),
                )
            )
        path = urlsplit(response.request.url if response.request else response.url).path
        return DripAPIError(
            response.status_code,
            errors,
            method=method,
            path=path,
            body_text=response.text[:500] if not errors else "",
        )

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
        """Send until Drip gives a final answer; returns any non-retryable response."""
        settings = self.settings
        session = self.session
        path = urlsplit(url).path
        headers = {"Content-Type": "application/json"} if body is not None else None
        attempts = 0
        retries = 0
        rate_limited = 0
        waited = 0.0
        while True:
            self._drop_idle_connections()
            attempts += 1
            sent_at = self._clock()
            try:
                response = session.request(
                    method,
                    url,
                    data=body,
                    headers=headers,
                    timeout=(settings.connect_timeout, settings.read_timeout),
                    allow_redirects=allow_redirects,
                )
            except requests.RequestException as err:
                self._last_used = self._clock()
                kind = classify_exception(err)
                cause = describe_exception(err)
                self.log.debug(
                    "%s %s failed after %.2fs: %s", method, path, self._last_used - sent_at, cause
                )
                if kind is FailureKind.FATAL:
                    raise DripError(f"Cannot send {method} {path} to Drip: {cause}") from err
                if kind is FailureKind.MAYBE_SENT and not idempotent:
                    raise DripAmbiguousOutcomeError(resource_name, record_count, cause) from err
                retries = self._retry_or_raise(method, path, attempts, retries, cause, None)
                continue
            self._last_used = self._clock()
            status = response.status_code
            self.log.debug(
                "%s %s -> HTTP %s in %.2fs (attempt %d)",
                method,
                path,
                status,
                self._last_used - sent_at,
                attempts,
            )
            if status == 429:
                now = datetime.now(timezone.utc)
                wait, retry_at, source = rate_limit_wait(
                    response.headers, now, settings.rate_limit_wait_seconds
                )
                rate_limited += 1
                if (
                    waited + wait > max_rate_limit_wait
                    or rate_limited > self.max_rate_limit_retries
                ):
                    raise DripRateLimitError(
                        retry_at,
                        message=self._drip_message(response),
                        limit=parse_int_header(response.headers, "X-RateLimit-Limit"),
                    )
                self.log.info(
                    "Drip rate limited %s %s (HTTP 429), waiting %.1fs (from %s)",
                    method,
                    path,
                    wait,
                    source,
                )
                self._sleep(wait)
                waited += wait
                attempts -= 1  # a 429 is not an attempt: Drip did not consider the batch
                continue
            if status in RETRYABLE_STATUSES:
                cause = f"HTTP {status}"
                if status in GATEWAY_TIMEOUT_STATUSES and not idempotent:
                    raise DripAmbiguousOutcomeError(
                        resource_name, record_count, f"{cause} from a gateway"
                    )
                hint = parse_retry_after(
                    response.headers.get("Retry-After"), datetime.now(timezone.utc)
                )
                retries = self._retry_or_raise(method, path, attempts, retries, cause, hint)
                continue
            return _Outcome(response, attempts, waited)

    def _retry_or_raise(
        self,
        method: str,
        path: str,
        attempts: int,
        retries: int,
        cause: str,
        retry_after: float | None,
    ) -> int:
        """Sleep before the next retry, or raise DripServerError when none are left."""
        if retries >= self.max_retries:
            raise DripServerError(
                f"Drip {method} {path} failed after {attempts} attempt(s) "
                f"({self.max_retries} retries allowed); last error: {cause}. The failures were "
                "safe to retry, so running the task again will not duplicate data."
            )
        delay = backoff_delay(retries, self.backoff_base, self.backoff_max, self._random)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.backoff_max))
        self.log.warning(
            "Drip %s %s failed (%s); retry %d of %d in %.1fs",
            method,
            path,
            cause,
            retries + 1,
            self.max_retries,
            delay,
        )
        self._sleep(delay)
        return retries + 1

    @staticmethod
    def _drip_message(response: requests.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return response.text[:200]
        details = parse_error_details(body)
        return "; ".join(str(d) for d in details)[:300]
