"""Pure rules for Drip's 429s: read the server's hints, then floor, cap and budget every wait.

Drip documents neither ``Retry-After`` nor ``X-RateLimit-Reset`` for batch endpoints, so when a
server (or a proxy in front of it) sends one it is honoured but never trusted blindly: a zero,
past or absurd value must neither hot-loop the hook nor overflow a datetime.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

from airflow_provider_drip.exceptions import DripRateLimitError

BATCH_RATE_LIMIT_FLOOR_S = 5.0
"""Shortest wait after a 429 on a batch endpoint. Batch endpoints allow 50 requests an hour, so a
``Retry-After: 0`` (or a reset time of now) is wrong, not urgent: without a floor the hook would
re-send ~20 times a second until the consecutive-429 cap, and a real window never reopens that
fast."""
GET_RATE_LIMIT_FLOOR_S = 1.0
"""Shortest wait after a 429 on a read (status checks, accounts): those share a 3,600/hour budget,
i.e. one request a second, so waiting less than that cannot help."""
RATE_LIMIT_WAIT_CAP_S = 7200.0
"""Longest single wait believed from a server hint: twice Drip's one-hour window. Anything longer
(``Retry-After: 1e20``, ``inf``, a date in year 9999) is clamped here, so it cannot overflow a
``datetime`` and cannot park a sync for days on one bad header."""
MAX_CONSECUTIVE_429S = 20
"""429 answers in a row for one request before the hook gives up in-process and raises
:class:`DripRateLimitError`, whatever the waits add up to."""

_EPOCH_MS_THRESHOLD = 1e12
_EPOCH_S_THRESHOLD = 1e9


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header value by case-insensitive name (plain dicts in tests, httpx/requests headers)."""
    value = headers.get(name)
    if value is not None:
        return value
    lower = name.lower()
    for key, val in headers.items():
        if key.lower() == lower:
            return val
    return None


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
    so a skewed local clock does not shorten or stretch it. Never negative; ``inf`` for an
    infinite or overflowing value (callers cap it); None if unparsable (``nan`` included).
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        return None if math.isnan(number) else max(0.0, number)
    when = parse_http_date(text)
    if when is None:
        return None
    reference = server_date or _utc(now)
    return max(0.0, (when - reference).total_seconds())


def parse_rate_limit_reset(value: str | None, now: datetime) -> datetime | None:
    """``X-RateLimit-Reset`` as an aware UTC datetime.

    APIs disagree on its unit: large numbers are epoch seconds (or milliseconds), small ones are
    seconds from now. An HTTP-date is accepted too. Values beyond ``datetime``'s range are
    clamped to its maximum (the wait is capped later); ``nan`` and negatives are unparsable.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        return parse_http_date(text)
    if math.isnan(number) or number < 0:
        return None
    if number >= _EPOCH_MS_THRESHOLD:
        number /= 1000.0
    try:
        if number >= _EPOCH_S_THRESHOLD:
            return datetime.fromtimestamp(number, tz=timezone.utc)
        return _utc(now) + timedelta(seconds=number)
    except (OverflowError, OSError, ValueError):
        return datetime.max.replace(tzinfo=timezone.utc)


def parse_int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = header(headers, name)
    if value is None:
        return None
    try:
        return int(float(value.strip()))
    except (ValueError, OverflowError):
        return None


def rate_limit_wait(
    headers: Mapping[str, str],
    now: datetime,
    default_wait: float,
    *,
    floor: float = GET_RATE_LIMIT_FLOOR_S,
    cap: float = RATE_LIMIT_WAIT_CAP_S,
) -> tuple[float, datetime, str]:
    """How long to wait after a 429: ``(seconds, retry_at, source)``, within ``[floor, cap]``.

    Takes the later of ``Retry-After`` and ``X-RateLimit-Reset`` when both are present (waiting a
    little longer costs time; waiting too little costs another request); falls back to
    ``default_wait`` (the connection's ``rate_limit_wait_seconds``) when neither is usable.
    ``source`` names the header and says when the floor or the cap changed the value.
    """
    now = _utc(now)
    server_date = parse_http_date(header(headers, "Date"))
    candidates: list[tuple[float, str]] = []
    retry_after = parse_retry_after(header(headers, "Retry-After"), now, server_date)
    if retry_after is not None:
        candidates.append((retry_after, "Retry-After"))
    reset_at = parse_rate_limit_reset(header(headers, "X-RateLimit-Reset"), now)
    if reset_at is not None:
        candidates.append((max(0.0, (reset_at - now).total_seconds()), "X-RateLimit-Reset"))
    if candidates:
        wait, source = max(candidates)
    else:
        wait, source = float(default_wait), "default"
    if not wait >= floor:  # also catches nan
        wait, source = floor, f"{source}, raised to the {floor:g}s floor"
    elif wait > cap:
        wait, source = cap, f"{source}, capped at {cap:g}s"
    return wait, now + timedelta(seconds=wait), source


@dataclass
class RateLimitBudget:
    """The 429s of one request: how long to wait next, or when to stop waiting in-process.

    ``max_total_wait`` bounds the sum of the waits (not each one), ``max_consecutive`` the number
    of 429 answers in a row. When either would be exceeded, :meth:`next_wait` raises
    :class:`DripRateLimitError` carrying ``retry_at`` so the caller can defer or fail.
    """

    max_total_wait: float
    default_wait: float
    floor: float
    cap: float = RATE_LIMIT_WAIT_CAP_S
    max_consecutive: int = MAX_CONSECUTIVE_429S
    waited: float = 0.0
    consecutive: int = 0

    def next_wait(
        self, headers: Mapping[str, str], now: datetime, drip_message: str = ""
    ) -> tuple[float, str]:
        """Account for one 429: ``(seconds to sleep, source)`` or raise DripRateLimitError."""
        wait, retry_at, source = rate_limit_wait(
            headers, now, self.default_wait, floor=self.floor, cap=self.cap
        )
        self.consecutive += 1
        reason = ""
        if self.consecutive > self.max_consecutive:
            reason = f"{self.consecutive} consecutive 429 answers (at most {self.max_consecutive})"
        elif self.waited + wait > self.max_total_wait:
            reason = (
                f"waiting {wait:.1f}s more would exceed the {self.max_total_wait:g}s allowed "
                f"in-process ({self.waited:.1f}s waited already)"
            )
        if reason:
            raise DripRateLimitError(
                retry_at,
                message=drip_message,
                limit=parse_int_header(headers, "X-RateLimit-Limit"),
                consecutive_429s=self.consecutive,
                waited_s=self.waited,
                reason=reason,
            )
        self.waited += wait
        return wait, source

    def answered(self) -> None:
        """A non-429 answer ends a run of consecutive 429s."""
        self.consecutive = 0
