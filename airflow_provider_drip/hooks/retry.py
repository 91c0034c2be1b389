"""Pure helpers for the hook's retry decisions: backoff, rate-limit waits, failure classes.

Kept free of I/O so each rule can be unit-tested on its own; the hook only wires them together.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import requests
from urllib3 import exceptions as u3

RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
"""The server answered, but with a transient failure: safe to send again."""

GATEWAY_TIMEOUT_STATUSES = frozenset({504})
"""A proxy passed the request on and got no answer in time: the origin may have processed it.
For resources that are not idempotent this is as ambiguous as a dropped connection."""

_EPOCH_MS_THRESHOLD = 1e12
_EPOCH_S_THRESHOLD = 1e9


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


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def parse_http_date(value: str | None) -> datetime | None:
    """An RFC 7231 HTTP-date (as in ``Date`` and ``Retry-After``) as an aware UTC datetime."""
    if not value:
        return None
    try:
        return _utc(parsedate_to_datetime(value.strip()))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def parse_retry_after(
    value: str | None, now: datetime, server_date: datetime | None = None
) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date.

    For an HTTP-date the wait is measured against the server's own ``Date`` header when given,
    so a skewed local clock does not shorten or stretch it. Never negative; None if unparsable.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    when = parse_http_date(text)
    if when is None:
        return None
    reference = server_date or _utc(now)
    return max(0.0, (when - reference).total_seconds())


def parse_rate_limit_reset(value: str | None, now: datetime) -> datetime | None:
    """``X-RateLimit-Reset`` as an aware UTC datetime.

    APIs disagree on its unit: large numbers are epoch seconds (or milliseconds), small ones are
    seconds from now. An HTTP-date is accepted too.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        return parse_http_date(text)
    if number < 0:
        return None
    if number >= _EPOCH_MS_THRESHOLD:
        number /= 1000.0
    if number >= _EPOCH_S_THRESHOLD:
        try:
            return datetime.fromtimestamp(number, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    return _utc(now) + timedelta(seconds=number)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lower = name.lower()
    for key, val in headers.items():
        if key.lower() == lower:
            return val
    return None


def parse_int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = _header(headers, name)
    if value is None:
        return None
    try:
        return int(float(value.strip()))
    except ValueError:
        return None


def rate_limit_wait(
    headers: Mapping[str, str], now: datetime, default_wait: float
) -> tuple[float, datetime, str]:
    """How long to wait after a 429: ``(seconds, retry_at, source)``.

    Takes the later of ``Retry-After`` and ``X-RateLimit-Reset`` when both are present (waiting a
    little longer costs time; waiting too little costs another request); falls back to
    ``default_wait`` (the connection's ``rate_limit_wait_seconds``) when neither is usable.
    """
    now = _utc(now)
    server_date = parse_http_date(_header(headers, "Date"))
    candidates: list[tuple[float, str]] = []
    retry_after = parse_retry_after(_header(headers, "Retry-After"), now, server_date)
    if retry_after is not None:
        candidates.append((retry_after, "Retry-After"))
    reset_at = parse_rate_limit_reset(_header(headers, "X-RateLimit-Reset"), now)
    if reset_at is not None:
        candidates.append((max(0.0, (reset_at - now).total_seconds()), "X-RateLimit-Reset"))
    if candidates:
        wait, source = max(candidates)
    else:
        wait, source = max(0.0, float(default_wait)), "default"
    return wait, now + timedelta(seconds=wait), source


class FailureKind(enum.Enum):
    """What a transport failure tells us about whether Drip received the request."""

    NOT_SENT = "not_sent"
    """The connection was never established: nothing reached Drip, a resend is always safe."""
    MAYBE_SENT = "maybe_sent"
    """The request (or part of it) went out and no answer came back: outcome unknown."""
    FATAL = "fatal"
    """A local problem (bad URL, invalid header) that retrying cannot fix."""


def _root_reason(err: BaseException) -> BaseException | None:
    """The urllib3 reason inside a requests exception (MaxRetryError.reason or the arg itself)."""
    inner = err.args[0] if err.args else None
    if isinstance(inner, u3.MaxRetryError):
        return inner.reason
    if isinstance(inner, BaseException):
        return inner
    return None


def classify_exception(err: BaseException) -> FailureKind:
    """Sort a ``requests`` failure into never sent / sent with unknown outcome / fatal.

    Conservative: anything not positively known to have failed before sending counts as
    MAYBE_SENT, because for events and shopper activity a wrong "never sent" means duplicates.
    """
    if isinstance(err, requests.exceptions.ConnectTimeout):
        return FailureKind.NOT_SENT
    if isinstance(err, requests.exceptions.ReadTimeout):
        return FailureKind.MAYBE_SENT
    if isinstance(err, requests.exceptions.SSLError):
        return FailureKind.NOT_SENT  # the TLS handshake precedes any request byte
    if isinstance(err, requests.exceptions.ConnectionError):
        reason = _root_reason(err)
        if isinstance(reason, u3.ProxyError):
            reason = getattr(reason, "original_error", None) or reason
        # urllib3 2: NameResolutionError and NewConnectionError subclass ConnectTimeoutError.
        if isinstance(reason, (u3.NewConnectionError, u3.ConnectTimeoutError, u3.SSLError)):
            return FailureKind.NOT_SENT
        if isinstance(reason, (ConnectionRefusedError,)):
            return FailureKind.NOT_SENT
        return FailureKind.MAYBE_SENT
    if isinstance(
        err, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)
    ):
        return FailureKind.MAYBE_SENT
    if isinstance(
        err,
        (
            requests.exceptions.InvalidURL,
            requests.exceptions.InvalidSchema,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidHeader,
            requests.exceptions.URLRequired,
            requests.exceptions.TooManyRedirects,
        ),
    ):
        return FailureKind.FATAL
    return FailureKind.MAYBE_SENT


def describe_exception(err: BaseException) -> str:
    """A short, token-free description of a transport failure for messages and logs.

    URLs and headers are never part of urllib3's reasons; the token travels only in a header.
    """
    reason = _root_reason(err)
    text = str(reason) if reason is not None else str(err)
    return f"{type(err).__name__}: {text}"[:300]
