"""What both hooks do with an HTTP answer, independent of the transport that fetched it.

The sync hook (requests) and the async hook (httpx) each turn their response into an
:class:`Answer` (status, headers, body text already scrubbed of the token) and hand it here:
the retry decision, the 429 budget, Drip's error bodies, the success-body check of a batch and
the request-status parsing are written once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_drip.exceptions import (
    DripAmbiguousOutcomeError,
    DripAPIError,
    DripError,
    DripErrorDetail,
    DripServerError,
    DripUnexpectedResponseError,
)
from airflow_provider_drip.hooks.batch_body import (
    NOT_JSON,
    UnexpectedSuccessBody,
    check_success_body,
)
from airflow_provider_drip.hooks.failures import FailureKind
from airflow_provider_drip.hooks.rate_limit import RateLimitBudget, header, parse_retry_after
from airflow_provider_drip.hooks.responses import RequestStatus, parse_error_details
from airflow_provider_drip.hooks.retry import (
    GATEWAY_TIMEOUT_STATUSES,
    RETRYABLE_STATUSES,
    RateLimitWait,
    TransientFailure,
)
from airflow_provider_drip.resources import BatchResource

_UNPARSED = object()


@dataclass
class Answer:
    """One HTTP answer, read in full; ``text`` has already been through ``settings.scrub``."""

    status: int
    headers: Mapping[str, str]
    text: str
    method: str
    path: str
    """Path of the request that got this answer (after any redirect followed)."""
    scrub: Callable[[str], str]
    _json: Any = field(default=_UNPARSED, repr=False)

    def json(self) -> Any:
        """The body as JSON with every string scrubbed again (a JSON-escaped echo survives the
        text scrub); ``NOT_JSON`` when the body is not JSON."""
        if self._json is _UNPARSED:
            try:
                self._json = _scrub_json(json.loads(self.text), self.scrub)
            except ValueError:
                self._json = NOT_JSON
        return self._json

    def header(self, name: str) -> str | None:
        return header(self.headers, name)

    @property
    def framed(self) -> bool:
        """The answer declared its length (so an empty body is "nothing", not a cut)."""
        chunked = "chunked" in (self.header("Transfer-Encoding") or "").lower()
        return chunked or self.header("Content-Length") is not None


def _scrub_json(value: Any, scrub: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list):
        return [_scrub_json(v, scrub) for v in value]
    if isinstance(value, dict):
        return {scrub(str(k)): _scrub_json(v, scrub) for k, v in value.items()}
    return value


def judge_failure(
    kind: FailureKind, cause: str, *, where: str, idempotent: bool, resource: str, count: int
) -> BaseException:
    """The exception to raise for a transport failure (the policy retries TransientFailure)."""
    if kind is FailureKind.FATAL:
        return DripError(f"Cannot send {where} to Drip: {cause}")
    if kind is FailureKind.MAYBE_SENT and not idempotent:
        return DripAmbiguousOutcomeError(resource, count, cause)
    return TransientFailure(cause, where)


def retries_exhausted(where: str, attempts: int, max_retries: int, cause: str) -> DripServerError:
    """The error once the policy's retries are used up (nothing is in doubt: all were safe)."""
    return DripServerError(
        f"Drip {where} failed after {attempts} attempt(s); last error: {cause} "
        f"({max_retries} retries allowed). The failures were safe to retry, so running the "
        "task again will not duplicate data."
    )


def judge_answer(
    answer: Answer,
    *,
    idempotent: bool,
    resource: str,
    count: int,
    budget: RateLimitBudget,
) -> Answer:
    """Return a final answer, or raise what the retry policy (or the caller) acts on."""
    where = f"{answer.method} {answer.path}"
    if answer.status == 429:
        wait, source = budget.next_wait(
            answer.headers, datetime.now(timezone.utc), drip_message(answer)
        )
        raise RateLimitWait(wait, source, where)
    budget.answered()
    if answer.status in RETRYABLE_STATUSES:
        cause = f"HTTP {answer.status}"
        if answer.status in GATEWAY_TIMEOUT_STATUSES and not idempotent:
            raise DripAmbiguousOutcomeError(resource, count, f"{cause} from a gateway")
        hint = parse_retry_after(answer.header("Retry-After"), datetime.now(timezone.utc))
        raise TransientFailure(cause, where, hint)
    return answer


def drip_message(answer: Answer) -> str:
    """Drip's own words from an error body, short (for 429 messages)."""
    body = answer.json()
    if body is NOT_JSON:
        return answer.text[:200]
    return "; ".join(str(d) for d in parse_error_details(body))[:300]


def api_error(answer: Answer) -> DripAPIError:
    """A DripAPIError from an error answer, with Drip's parsed errors (all scrubbed)."""
    body = answer.json()
    errors = parse_error_details(body if body is not NOT_JSON else None)
    if 300 <= answer.status < 400:
        location = urlsplit(answer.scrub(answer.header("Location") or ""))
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
    return DripAPIError(
        answer.status,
        errors,
        method=answer.method,
        path=answer.path,
        body_text=answer.text[:500] if not errors else "",
    )


def json_body(answer: Answer) -> Any:
    """The JSON body of a 2xx read, or DripAPIError when it is not JSON."""
    body = answer.json()
    if body is NOT_JSON:
        raise DripAPIError(
            answer.status,
            [DripErrorDetail(code="unexpected_body", message="response body is not JSON")],
            method=answer.method,
            path=answer.path,
            body_text=answer.text[:500],
        )
    return body


def request_status(answer: Answer, request_id: str) -> RequestStatus:
    """A status answer (2xx or 404) as a RequestStatus, or the DripAPIError explaining it."""
    if answer.status == 404:
        error = api_error(answer)
        error.errors.append(
            DripErrorDetail(
                code="not_found",
                message=(
                    f"request id {request_id!r} is unknown to Drip, or the request status "
                    f"endpoint is not available at {answer.path}. Drip has not "
                    "published that endpoint's path: set it with the connection extra "
                    "'request_status_path' (placeholders {account_id} and {request_id})"
                ),
            )
        )
        raise DripAPIError(
            404, error.errors, method="GET", path=error.path, body_text=error.body_text
        )
    if not 200 <= answer.status < 300:
        raise api_error(answer)
    body = json_body(answer)
    try:
        return RequestStatus.from_json(str(request_id), body)
    except ValueError as err:
        raise DripAPIError(
            answer.status,
            [DripErrorDetail(code="unexpected_body", message=str(err))],
            method="GET",
            path=answer.path,
        ) from None


def accepted_request_ids(
    answer: Answer, resource: BatchResource, record_count: int, log: Any
) -> list[str]:
    """Check a 2xx batch answer against the documented success body; its request ids.

    A body that is not the documented shape is not an acceptance: for an idempotent resource it
    raises :class:`DripUnexpectedResponseError` (not accepted; resending is harmless), for the
    others :class:`DripAmbiguousOutcomeError` (Drip may have recorded the batch).
    """
    if answer.status != resource.success_status:
        log.warning(
            "Drip answered HTTP %s to a %s batch (expected %s); checking its body",
            answer.status,
            resource.name,
            resource.success_status,
        )
    try:
        return check_success_body(
            resource.success_body,
            answer.text,
            answer.json(),
            record_count,
            framed=answer.framed,
        )
    except UnexpectedSuccessBody as err:
        if resource.idempotent:
            raise DripUnexpectedResponseError(
                answer.status,
                str(err),
                method=answer.method,
                path=answer.path,
                body_text=answer.text[:500],
            ) from None
        raise DripAmbiguousOutcomeError(
            resource.name,
            record_count,
            f"HTTP {answer.status} without the documented success body: {err}",
        ) from None
