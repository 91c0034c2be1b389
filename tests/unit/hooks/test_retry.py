"""The hook's pure retry rules: backoff, Retry-After / X-RateLimit-Reset, failure classes."""

from __future__ import annotations

import http.client
import socket
import ssl
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import requests
from urllib3 import exceptions as u3

from airflow_provider_drip.hooks.failures import (
    DeadlineExceeded,
    FailureKind,
    classify_exception,
    classify_httpx_exception,
    describe_exception,
)
from airflow_provider_drip.hooks.rate_limit import (
    parse_http_date,
    parse_int_header,
    parse_rate_limit_reset,
    parse_retry_after,
    rate_limit_wait,
)
from airflow_provider_drip.hooks.retry import backoff_delay

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


class TestBackoff:
    def test_full_jitter_spans_zero_to_ceiling(self):
        assert backoff_delay(0, 1.0, 60.0, rand=lambda: 0.0) == 0.0
        assert backoff_delay(0, 1.0, 60.0, rand=lambda: 1.0) == 1.0
        assert backoff_delay(3, 1.0, 60.0, rand=lambda: 1.0) == 8.0
        assert backoff_delay(3, 1.0, 60.0, rand=lambda: 0.5) == 4.0

    def test_capped(self):
        assert backoff_delay(10, 1.0, 60.0, rand=lambda: 1.0) == 60.0
        assert backoff_delay(10_000, 1.0, 60.0, rand=lambda: 1.0) == 60.0

    def test_default_random_stays_in_range(self):
        delays = [backoff_delay(2, 0.5, 60.0) for _ in range(200)]
        assert all(0.0 <= d <= 2.0 for d in delays)
        assert len(set(delays)) > 100  # jittered, not a fixed schedule

    def test_zero_base_means_no_wait(self):
        assert backoff_delay(4, 0.0, 60.0) == 0.0


class TestRetryAfter:
    def test_seconds(self):
        assert parse_retry_after("120", NOW) == 120.0
        assert parse_retry_after(" 1.5 ", NOW) == 1.5
        assert parse_retry_after("-3", NOW) == 0.0

    def test_http_date_against_local_clock(self):
        assert parse_retry_after("Sun, 01 Mar 2026 12:01:30 GMT", NOW) == 90.0

    def test_http_date_against_server_date(self):
        # The local clock is 10 minutes fast; the server's Date header keeps the wait right.
        skewed_now = NOW + timedelta(minutes=10)
        server_date = parse_http_date("Sun, 01 Mar 2026 12:00:00 GMT")
        wait = parse_retry_after("Sun, 01 Mar 2026 12:01:30 GMT", skewed_now, server_date)
        assert wait == 90.0

    def test_past_date_is_zero(self):
        assert parse_retry_after("Sun, 01 Mar 2026 11:00:00 GMT", NOW) == 0.0

    @pytest.mark.parametrize("value", [None, "", "soon", "Mon, 99 Foo 2026"])
    def test_unparsable(self, value):
        assert parse_retry_after(value, NOW) is None


class TestRateLimitReset:
    def test_epoch_seconds(self):
        epoch = int((NOW + timedelta(minutes=5)).timestamp())
        assert parse_rate_limit_reset(str(epoch), NOW) == NOW + timedelta(minutes=5)

    def test_epoch_milliseconds(self):
        epoch_ms = int((NOW + timedelta(minutes=5)).timestamp() * 1000)
        assert parse_rate_limit_reset(str(epoch_ms), NOW) == NOW + timedelta(minutes=5)

    def test_delta_seconds(self):
        assert parse_rate_limit_reset("300", NOW) == NOW + timedelta(seconds=300)

    def test_http_date(self):
        got = parse_rate_limit_reset("Sun, 01 Mar 2026 13:00:00 GMT", NOW)
        assert got == NOW + timedelta(hours=1)

    @pytest.mark.parametrize("value", [None, "", "-5", "later"])
    def test_unparsable(self, value):
        assert parse_rate_limit_reset(value, NOW) is None


class TestRateLimitWait:
    def test_retry_after_seconds(self):
        wait, retry_at, source = rate_limit_wait({"Retry-After": "30"}, NOW, 3600)
        assert (wait, retry_at, source) == (30.0, NOW + timedelta(seconds=30), "Retry-After")

    def test_header_names_are_case_insensitive(self):
        wait, _, source = rate_limit_wait({"retry-after": "30"}, NOW, 3600)
        assert (wait, source) == (30.0, "Retry-After")

    def test_reset_epoch(self):
        epoch = str(int(NOW.timestamp()) + 600)
        wait, retry_at, source = rate_limit_wait({"X-RateLimit-Reset": epoch}, NOW, 3600)
        assert (wait, source) == (600.0, "X-RateLimit-Reset")
        assert retry_at == NOW + timedelta(seconds=600)

    def test_later_of_both_wins(self):
        headers = {"Retry-After": "30", "X-RateLimit-Reset": "45"}
        wait, _, source = rate_limit_wait(headers, NOW, 3600)
        assert (wait, source) == (45.0, "X-RateLimit-Reset")

    def test_default_when_no_header(self):
        wait, retry_at, source = rate_limit_wait({}, NOW, 3600)
        assert (wait, source) == (3600.0, "default")
        assert retry_at == NOW + timedelta(hours=1)

    def test_default_when_headers_unparsable(self):
        wait, _, source = rate_limit_wait({"Retry-After": "soon"}, NOW, 120)
        assert (wait, source) == (120.0, "default")

    def test_http_date_uses_server_date(self):
        headers = {
            "Retry-After": "Sun, 01 Mar 2026 12:00:20 GMT",
            "Date": "Sun, 01 Mar 2026 12:00:00 GMT",
        }
        wait, _, _ = rate_limit_wait(headers, NOW + timedelta(seconds=15), 3600)
        assert wait == 20.0


def test_parse_int_header():
    assert parse_int_header({"X-RateLimit-Remaining": "49"}, "X-RateLimit-Remaining") == 49
    assert parse_int_header({"x-ratelimit-limit": "50"}, "X-RateLimit-Limit") == 50
    assert parse_int_header({}, "X-RateLimit-Limit") is None
    assert parse_int_header({"X-RateLimit-Limit": "lots"}, "X-RateLimit-Limit") is None


def _conn_error(reason: BaseException) -> requests.exceptions.ConnectionError:
    return requests.exceptions.ConnectionError(u3.MaxRetryError(None, "/x", reason))


class TestClassify:
    def test_refused_is_not_sent(self):
        reason = u3.NewConnectionError(None, "Failed to establish a new connection: refused")
        assert classify_exception(_conn_error(reason)) is FailureKind.NOT_SENT

    def test_dns_failure_is_not_sent(self):
        reason = u3.NameResolutionError("drip.invalid", None, socket.gaierror("nope"))
        assert classify_exception(_conn_error(reason)) is FailureKind.NOT_SENT

    def test_connect_timeout_is_not_sent(self):
        err = requests.exceptions.ConnectTimeout(
            u3.MaxRetryError(None, "/x", u3.ConnectTimeoutError())
        )
        assert classify_exception(err) is FailureKind.NOT_SENT

    def test_read_timeout_is_maybe_sent(self):
        assert (
            classify_exception(requests.exceptions.ReadTimeout("read timed out"))
            is FailureKind.MAYBE_SENT
        )

    def test_remote_disconnected_is_maybe_sent(self):
        reason = u3.ProtocolError(
            "Connection aborted.", http.client.RemoteDisconnected("closed without response")
        )
        assert (
            classify_exception(requests.exceptions.ConnectionError(reason))
            is FailureKind.MAYBE_SENT
        )

    def test_reset_is_maybe_sent(self):
        reason = u3.ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))
        assert classify_exception(_conn_error(reason)) is FailureKind.MAYBE_SENT

    def test_broken_body_is_maybe_sent(self):
        err = requests.exceptions.ChunkedEncodingError("incomplete read")
        assert classify_exception(err) is FailureKind.MAYBE_SENT

    def test_unknown_errors_are_treated_as_maybe_sent(self):
        assert classify_exception(requests.exceptions.RequestException("?")) is (
            FailureKind.MAYBE_SENT
        )

    def test_bad_url_is_fatal(self):
        assert classify_exception(requests.exceptions.InvalidURL("x")) is FailureKind.FATAL

    def test_redirect_loop_is_fatal(self):
        err = requests.exceptions.TooManyRedirects("Exceeded 5 redirects.")
        assert classify_exception(err) is FailureKind.FATAL

    def test_describe_names_the_cause(self):
        reason = u3.NewConnectionError(None, "Failed to establish a new connection: refused")
        text = describe_exception(_conn_error(reason))
        assert text.startswith("ConnectionError: ")
        assert "refused" in text


class TestTls:
    """A TLS failure is a configuration problem: fatal, explained, never retried."""

    def test_requests_ssl_error_is_fatal_with_a_hint(self):
        reason = u3.SSLError("[SSL: WRONG_VERSION_NUMBER] wrong version number")
        err = requests.exceptions.SSLError(u3.MaxRetryError(None, "/x", reason))
        assert classify_exception(err) is FailureKind.FATAL
        text = describe_exception(err)
        assert "plain http" in text and "WRONG_VERSION_NUMBER" in text

    def test_ssl_error_inside_a_connection_error_is_fatal(self):
        err = _conn_error(u3.SSLError(ssl.SSLCertVerificationError("certificate verify failed")))
        assert classify_exception(err) is FailureKind.FATAL


def _httpx_error(cls: type[Exception], cause: BaseException | None = None) -> Exception:
    try:
        raise cls("boom") from cause
    except cls as err:
        return err


class TestClassifyHttpx:
    def test_connect_failures_are_not_sent(self):
        assert classify_httpx_exception(_httpx_error(httpx.ConnectError)) is FailureKind.NOT_SENT
        assert classify_httpx_exception(_httpx_error(httpx.ConnectTimeout)) is (
            FailureKind.NOT_SENT
        )

    def test_tls_failure_is_fatal(self):
        err = _httpx_error(httpx.ConnectError, ssl.SSLError(1, "WRONG_VERSION_NUMBER"))
        assert classify_httpx_exception(err) is FailureKind.FATAL
        assert "plain http" in describe_exception(err)

    @pytest.mark.parametrize(
        "err",
        [
            _httpx_error(httpx.ReadTimeout),
            _httpx_error(httpx.RemoteProtocolError),
            _httpx_error(httpx.ReadError),
            TimeoutError(),
            DeadlineExceeded("too slow"),
        ],
    )
    def test_sent_without_an_answer_is_maybe_sent(self, err):
        assert classify_httpx_exception(err) is FailureKind.MAYBE_SENT

    def test_bad_url_is_fatal(self):
        assert classify_httpx_exception(_httpx_error(httpx.UnsupportedProtocol)) is (
            FailureKind.FATAL
        )

    def test_deadline_is_maybe_sent_for_requests_too(self):
        assert classify_exception(DeadlineExceeded("too slow")) is FailureKind.MAYBE_SENT
