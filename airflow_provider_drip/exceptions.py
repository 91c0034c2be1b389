"""Typed errors, so operators can react (defer, fail, report) without parsing messages.

None of these ever carry the API token: messages are built from status codes, Drip's error
bodies and record positions only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from airflow.sdk.exceptions import AirflowException


class DripError(AirflowException):
    """Base class of every error this provider raises."""


class DripConfigError(DripError):
    """The connection or operator arguments are unusable (missing login, bad URL, ...)."""


@dataclass(frozen=True)
class DripErrorDetail:
    """One entry of Drip's ``{"errors": [{"code", "attribute", "message"}]}`` body."""

    code: str | None = None
    attribute: str | None = None
    message: str | None = None

    def __str__(self) -> str:
        parts = [p for p in (self.code, self.attribute and f"attribute={self.attribute}") if p]
        head = " ".join(parts)
        if self.message:
            return f"{head}: {self.message}" if head else self.message
        return head or "unknown error"


class DripAPIError(DripError):
    """Drip answered with an error status that retrying will not fix (401/403/404/422, ...)."""

    def __init__(
        self,
        status: int,
        errors: list[DripErrorDetail] | None = None,
        *,
        method: str = "",
        path: str = "",
        body_text: str = "",
    ) -> None:
        self.status = status
        self.errors = list(errors or [])
        self.method = method
        self.path = path
        self.body_text = body_text
        super().__init__(str(self))

    @property
    def codes(self) -> list[str]:
        return [e.code for e in self.errors if e.code]

    @property
    def attributes(self) -> list[str]:
        return [e.attribute for e in self.errors if e.attribute]

    @property
    def messages(self) -> list[str]:
        return [e.message for e in self.errors if e.message]

    def __str__(self) -> str:
        where = f" for {self.method} {self.path}" if self.path else ""
        if self.errors:
            detail = "; ".join(str(e) for e in self.errors)
        else:
            detail = self.body_text[:500] or "no error body"
        return f"Drip API returned HTTP {self.status}{where}: {detail}"


class DripRateLimitError(DripError):
    """Drip answered 429 and the wait until ``retry_at`` is longer than the caller allows.

    Operators catch this to defer (releasing the worker) or to fail with when to retry.
    ``consecutive_429s`` counts the 429 answers in a row for the request that raised it (0 when
    raised by a caller such as the sync loop rather than the hook), ``waited_s`` the seconds the
    hook already slept on them, and ``reason`` says which in-process cap was hit.
    """

    def __init__(
        self,
        retry_at: datetime,
        *,
        message: str = "",
        limit: int | None = None,
        consecutive_429s: int = 0,
        waited_s: float = 0.0,
        reason: str = "",
    ) -> None:
        self.retry_at = retry_at
        self.limit = limit
        self.drip_message = message
        self.consecutive_429s = consecutive_429s
        self.waited_s = waited_s
        self.reason = reason
        text = f"Drip batch rate limit reached; retry at {retry_at.isoformat()}"
        if reason:
            text += f"; stopped waiting in-process: {reason}"
        if message:
            text += f" (Drip said: {message})"
        super().__init__(text)


class DripServerError(DripError):
    """Drip kept failing with 5xx or connection errors after every retry allowed.

    The request was known not to be processed (or the resource is idempotent), so nothing is in
    doubt: it is safe to run again.
    """


class DripAmbiguousOutcomeError(DripError):
    """A non-idempotent batch was sent but no usable answer came back (timeout, dropped
    connection, a 504 from a gateway, a 2xx without the documented success body).

    Drip may or may not have recorded it; resending could record it twice. The hook never resends
    such a batch on its own: the caller decides by its documented policy.
    """

    def __init__(self, resource: str, record_count: int, cause: str) -> None:
        self.resource = resource
        self.record_count = record_count
        self.cause = cause
        super().__init__(
            f"Outcome unknown for a {resource} batch of {record_count} records: the request was "
            f"sent but no usable response arrived ({cause}). It was not resent automatically "
            f"because {resource} are not idempotent."
        )


class DripAmbiguousRangeError(DripError):
    """The sync's ``on_ambiguous="fail"`` policy stopped on a batch whose outcome is unknown.

    Names the input's record range and how to settle it; a plain retry raises it again rather
    than guess.
    """


class DripUnexpectedResponseError(DripError):
    """Drip answered 2xx to a batch of an idempotent resource, but not with the documented body.

    Not trusted as acceptance: the batch is treated as not accepted (the sync cursor stays
    before it), and resending it is harmless because the resource is idempotent. For resources
    that are not idempotent the hook raises :class:`DripAmbiguousOutcomeError` instead.
    """

    def __init__(
        self, status: int, reason: str, *, method: str = "", path: str = "", body_text: str = ""
    ) -> None:
        self.status = status
        self.reason = reason
        self.method = method
        self.path = path
        self.body_text = body_text
        where = f" for {method} {path}" if path else ""
        super().__init__(
            f"Drip answered HTTP {status}{where} without the documented success body "
            f"({reason}); the batch is not counted as accepted"
        )
