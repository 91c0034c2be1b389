"""Pure classification of transport failures: did the request reach Drip, and can it be resent?

One rule for both transports (``requests`` in the sync hook, ``httpx`` in the async one):
nothing sent (refused, DNS, connect timeout) is always safe to resend; sent without an answer
(read timeout, dropped connection, the per-attempt deadline) is ambiguous for resources that are
not idempotent; a local or configuration problem (bad URL, TLS failure) is fatal, because
resending cannot fix it.
"""

from __future__ import annotations

import enum
import ssl

import httpx
import requests
from urllib3 import exceptions as u3

SSL_HINT = (
    "the TLS handshake failed: is the host serving plain http? Use http:// only for a loopback "
    "host (the local emulator); for a remote host check the host and port, the server's "
    "certificate and the CA bundle (REQUESTS_CA_BUNDLE / SSL_CERT_FILE)"
)


class FailureKind(enum.Enum):
    """What a transport failure tells us about whether Drip received the request."""

    NOT_SENT = "not_sent"
    """The connection was never established: nothing reached Drip, a resend is always safe."""
    MAYBE_SENT = "maybe_sent"
    """The request (or part of it) went out and no answer came back: outcome unknown."""
    FATAL = "fatal"
    """A local or configuration problem (bad URL, TLS failure) that retrying cannot fix."""


DEADLINE_MESSAGE = (
    "no complete answer within the attempt's deadline (connect + read timeout and a margin; "
    "a server trickling its answer); the request was sent"
)


class DeadlineExceeded(Exception):
    """An attempt ran past its overall deadline (a server trickling its answer)."""


def _root_reason(err: BaseException) -> BaseException | None:
    """The urllib3 reason inside a requests exception (MaxRetryError.reason or the arg itself)."""
    inner = err.args[0] if err.args else None
    if isinstance(inner, u3.MaxRetryError):
        return inner.reason
    if isinstance(inner, BaseException):
        return inner
    return None


def _chain(err: BaseException) -> list[BaseException]:
    """``err``, its causes / contexts and urllib3 reasons, each once."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [err]
    while todo:
        item = todo.pop()
        if item is None or any(item is s for s in seen):
            continue
        seen.append(item)
        todo += [item.__cause__, item.__context__, _root_reason(item)]
        if isinstance(item, u3.ProxyError):
            todo.append(getattr(item, "original_error", None))
    return seen


def is_tls_failure(err: BaseException) -> bool:
    """True when a TLS handshake or certificate problem is anywhere in the failure's chain."""
    return any(
        isinstance(e, (ssl.SSLError, u3.SSLError, requests.exceptions.SSLError))
        for e in _chain(err)
    )


def classify_exception(err: BaseException) -> FailureKind:
    """Sort a ``requests`` failure into never sent / sent with unknown outcome / fatal.

    Conservative: anything not positively known to have failed before sending counts as
    MAYBE_SENT, because for events and shopper activity a wrong "never sent" means duplicates.
    """
    if isinstance(err, DeadlineExceeded):
        return FailureKind.MAYBE_SENT
    if is_tls_failure(err):
        return FailureKind.FATAL
    if isinstance(err, requests.exceptions.ConnectTimeout):
        return FailureKind.NOT_SENT
    if isinstance(err, requests.exceptions.ReadTimeout):
        return FailureKind.MAYBE_SENT
    if isinstance(err, requests.exceptions.ConnectionError):
        reason = _root_reason(err)
        if isinstance(reason, u3.ProxyError):
            reason = getattr(reason, "original_error", None) or reason
        # urllib3 2: NameResolutionError and NewConnectionError subclass ConnectTimeoutError.
        if isinstance(reason, (u3.NewConnectionError, u3.ConnectTimeoutError)):
            return FailureKind.NOT_SENT
        if isinstance(reason, ConnectionRefusedError):
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


def classify_httpx_exception(err: BaseException) -> FailureKind:
    """The same sorting for ``httpx`` failures (and the async hook's deadline)."""
    if isinstance(err, (DeadlineExceeded, TimeoutError)):
        return FailureKind.MAYBE_SENT
    if is_tls_failure(err):
        return FailureKind.FATAL
    if isinstance(err, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        return FailureKind.NOT_SENT
    if isinstance(
        err,
        (
            httpx.UnsupportedProtocol,
            httpx.InvalidURL,
            httpx.TooManyRedirects,
            httpx.LocalProtocolError,
        ),
    ):
        return FailureKind.FATAL
    return FailureKind.MAYBE_SENT


def describe_exception(err: BaseException) -> str:
    """A short, token-free description of a transport failure for messages and logs.

    URLs and headers are never part of the transports' reasons; the token travels only in a
    header. TLS failures say what is most likely wrong.
    """
    reason = _root_reason(err)
    text = str(reason) if reason is not None else str(err)
    name = type(err).__name__
    if is_tls_failure(err):
        return f"{name}: {SSL_HINT} ({text[:150]})"
    return f"{name}: {text}"[:300] if text else name
