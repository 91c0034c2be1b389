"""DripConnectionSettings: how a ``drip`` connection becomes a base URL, headers and timeouts."""

from __future__ import annotations

import base64
import json

import pytest
from airflow.sdk import Connection

from airflow_provider_drip.exceptions import DripConfigError
from airflow_provider_drip.hooks.settings import (
    DEFAULT_BASE_URL,
    DripConnectionSettings,
    is_loopback_host,
    normalise_base_url,
)
from airflow_provider_drip.resources import DEFAULT_REQUEST_STATUS_PATH
from airflow_provider_drip.version import __version__

TOKEN = "tok_Sx9q2LmP4vR7wZ1k"


def settings(host=None, extra=None, login="123", password=TOKEN) -> DripConnectionSettings:
    return DripConnectionSettings.from_fields("drip_x", login, password, host, extra)


class TestBaseUrl:
    @pytest.mark.parametrize(
        ("host", "expected"),
        [
            (None, DEFAULT_BASE_URL),
            ("", DEFAULT_BASE_URL),
            ("api.getdrip.com", "https://api.getdrip.com"),
            ("https://api.getdrip.com/", "https://api.getdrip.com"),
            ("https://proxy.acme.com:8443/drip/", "https://proxy.acme.com:8443/drip"),
            ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
            ("http://localhost:8765", "http://localhost:8765"),
            ("http://[::1]:8765", "http://[::1]:8765"),
            ("http://127.5.0.1", "http://127.5.0.1"),
        ],
    )
    def test_accepted(self, host, expected):
        assert settings(host).base_url == expected

    @pytest.mark.parametrize(
        "host", ["http://api.getdrip.com", "http://10.0.0.5:8765", "http://localhost.evil.com"]
    )
    def test_plain_http_only_on_loopback(self, host):
        with pytest.raises(DripConfigError, match=r"'drip_x'.*plain http.*https"):
            settings(host)

    @pytest.mark.parametrize(
        "host", ["ftp://api.getdrip.com", "https://", "http://:80", "http://127.0.0.1:abc"]
    )
    def test_invalid(self, host):
        with pytest.raises(DripConfigError, match="'drip_x'"):
            normalise_base_url(host, "drip_x")

    @pytest.mark.parametrize(
        "host",
        [
            "https://api.getdrip.com@evil.example",
            "api.getdrip.com@evil.example",
            "https://user:pw@api.getdrip.com",
            "https://@api.getdrip.com",
        ],
    )
    def test_user_info_is_refused(self, host):
        with pytest.raises(DripConfigError, match=r"'drip_x'.*user info"):
            normalise_base_url(host, "drip_x")

    @pytest.mark.parametrize(
        "host",
        ["https://api.getdrip.com?x=1", "https://api.getdrip.com/#frag", "api.getdrip.com?"],
    )
    def test_query_and_fragment_are_refused(self, host):
        with pytest.raises(DripConfigError, match=r"'drip_x'.*query or fragment"):
            normalise_base_url(host, "drip_x")

    def test_loopback(self):
        assert is_loopback_host("LOCALHOST") and is_loopback_host("127.0.0.2")
        assert is_loopback_host("::1")
        assert not is_loopback_host("8.8.8.8") and not is_loopback_host(None)


class TestCredentials:
    def test_missing_password_names_connection_and_field(self):
        with pytest.raises(DripConfigError) as info:
            settings(password=None)
        assert "'drip_x'" in str(info.value) and "password (API Token)" in str(info.value)
        assert "login" not in str(info.value).split("missing")[1].split(":")[0]

    def test_missing_login(self):
        with pytest.raises(DripConfigError, match=r"missing login \(Account ID\)"):
            settings(login=" ")

    def test_whitespace_is_stripped(self):
        s = settings(login=" 123 ", password=f" {TOKEN}\n")
        assert (s.account_id, s.token) == ("123", TOKEN)

    def test_basic_authorization(self):
        expected = base64.b64encode(f"{TOKEN}:".encode()).decode()
        assert settings().authorization == f"Basic {expected}"

    def test_bearer_authorization(self):
        assert settings(extra={"auth_type": "Bearer"}).authorization == f"Bearer {TOKEN}"

    def test_unknown_auth_type(self):
        with pytest.raises(DripConfigError, match="auth_type"):
            settings(extra={"auth_type": "oauth"})

    def test_token_not_in_repr(self):
        s = settings()
        assert TOKEN not in repr(s) and TOKEN not in str(s)
        assert "123" in repr(s)


class TestExtra:
    def test_json_string_and_dict_agree(self):
        extra = {"user_agent": "me", "timeout": 5}
        assert settings(extra=json.dumps(extra)) == settings(extra=extra)

    @pytest.mark.parametrize("extra", ["{not json", "[1, 2]"])
    def test_bad_json(self, extra):
        with pytest.raises(DripConfigError, match="extra"):
            settings(extra=extra)

    def test_user_agent(self):
        assert settings().user_agent == f"airflow-provider-drip/{__version__}"
        ua = settings(extra={"user_agent": "acme (ops@acme.com)"}).user_agent
        assert ua == f"airflow-provider-drip/{__version__} acme (ops@acme.com)"

    def test_headers(self):
        headers = settings().headers()
        assert headers["Accept"] == "application/json"
        assert headers["Content-Type"] == "application/json"
        assert headers["User-Agent"].startswith("airflow-provider-drip/")

    @pytest.mark.parametrize(
        ("value", "expected"),
        [(None, (10.0, 60.0)), (30, (10.0, 30.0)), (5, (5.0, 5.0)), ([3, 90], (3.0, 90.0))],
    )
    def test_timeouts(self, value, expected):
        extra = {} if value is None else {"timeout": value}
        s = settings(extra=extra)
        assert (s.connect_timeout, s.read_timeout) == expected

    @pytest.mark.parametrize("value", ["soon", [1], [1, 2, 3], 0, [-1, 5]])
    def test_bad_timeouts(self, value):
        with pytest.raises(DripConfigError, match="timeout"):
            settings(extra={"timeout": value})

    def test_rate_limit_wait(self):
        assert settings().rate_limit_wait_seconds == 3600.0
        assert settings(extra={"rate_limit_wait_seconds": "90"}).rate_limit_wait_seconds == 90.0
        with pytest.raises(DripConfigError, match="rate_limit_wait_seconds"):
            settings(extra={"rate_limit_wait_seconds": "an hour"})

    @pytest.mark.parametrize(
        ("value", "expected"),
        [(None, False), ("", False), (True, True), ("true", True), ("False", False)],
    )
    def test_gzip_requests(self, value, expected):
        extra = {} if value is None else {"gzip_requests": value}
        assert settings(extra=extra).gzip_requests is expected

    @pytest.mark.parametrize("value", ["yes", 1, [True]])
    def test_bad_gzip_requests(self, value):
        with pytest.raises(DripConfigError, match="gzip_requests"):
            settings(extra={"gzip_requests": value})

    def test_request_status_path(self):
        s = settings("https://api.getdrip.com")
        assert s.request_status_path == DEFAULT_REQUEST_STATUS_PATH
        assert s.request_status_url("abc") == (
            "https://api.getdrip.com/v3/123/shopper_activity/requests/abc"
        )
        custom = settings(extra={"request_status_path": "/v3/{account_id}/status/{request_id}"})
        assert custom.request_status_url("x") == "https://api.getdrip.com/v3/123/status/x"


class TestFromConnection:
    def test_url_in_host(self):
        conn = Connection(
            conn_id="drip_c",
            conn_type="drip",
            login="123",
            password=TOKEN,
            host="http://127.0.0.1:8765",
            extra=json.dumps({"auth_type": "bearer"}),
        )
        s = DripConnectionSettings.from_connection(conn)
        assert (s.conn_id, s.base_url, s.auth_type) == ("drip_c", "http://127.0.0.1:8765", "bearer")

    def test_host_port_and_schema_fields(self):
        conn = Connection(
            conn_id="drip_c",
            conn_type="drip",
            login="123",
            password=TOKEN,
            host="127.0.0.1",
            port=8765,
            schema="http",
        )
        assert DripConnectionSettings.from_connection(conn).base_url == "http://127.0.0.1:8765"

    def test_host_and_port_default_to_https(self):
        conn = Connection(
            conn_id="drip_c",
            conn_type="drip",
            login="1",
            password=TOKEN,
            host="drip.acme",
            port=8443,
        )
        assert DripConnectionSettings.from_connection(conn).base_url == "https://drip.acme:8443"

    @pytest.mark.parametrize(
        ("host", "expected"),
        [
            ("http://127.0.0.1", "http://127.0.0.1:8765"),
            ("http://127.0.0.1/", "http://127.0.0.1:8765"),
            ("https://drip.acme/api", "https://drip.acme:8765/api"),
            ("http://[::1]", "http://[::1]:8765"),
            ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ],
    )
    def test_port_field_is_kept_with_a_scheme_in_host(self, host, expected):
        conn = Connection(
            conn_id="drip_c", conn_type="drip", login="1", password=TOKEN, host=host, port=8765
        )
        assert DripConnectionSettings.from_connection(conn).base_url == expected

    def test_conflicting_ports_are_refused(self):
        conn = Connection(
            conn_id="drip_c",
            conn_type="drip",
            login="1",
            password=TOKEN,
            host="http://127.0.0.1:9000",
            port=8765,
        )
        with pytest.raises(DripConfigError, match="port"):
            DripConnectionSettings.from_connection(conn)

    def test_host_without_scheme_stays_https(self):
        assert settings("127.0.0.1:8765").base_url == "https://127.0.0.1:8765"

    def test_attempt_deadline(self):
        s = settings(extra={"timeout": [3, 20]})
        assert s.attempt_deadline == 3 + 20 + 20

    def test_from_uri(self):
        conn = Connection.from_uri(f"drip://123:{TOKEN}@api.getdrip.com", conn_id="drip_uri")
        s = DripConnectionSettings.from_connection(conn)
        assert (s.account_id, s.token, s.base_url) == ("123", TOKEN, "https://api.getdrip.com")

    def test_from_environment(self, monkeypatch):
        from airflow.sdk import BaseHook

        value = {"conn_type": "drip", "login": "55", "password": TOKEN, "extra": {"timeout": 9}}
        monkeypatch.setenv("AIRFLOW_CONN_DRIP_ENV", json.dumps(value))
        s = DripConnectionSettings.from_connection(BaseHook.get_connection("drip_env"))
        assert (s.account_id, s.base_url, s.read_timeout) == ("55", DEFAULT_BASE_URL, 9.0)


def test_a_cleared_rate_limit_wait_field_means_the_default_and_a_negative_one_is_refused():
    from airflow_provider_drip.hooks.settings import (
        DEFAULT_RATE_LIMIT_WAIT_SECONDS,
        DripConnectionSettings,
    )

    for cleared in (None, ""):
        settings = DripConnectionSettings.from_fields(
            "c", "123", "tok", None, {"rate_limit_wait_seconds": cleared}
        )
        assert settings.rate_limit_wait_seconds == DEFAULT_RATE_LIMIT_WAIT_SECONDS
    with pytest.raises(DripConfigError, match="rate_limit_wait_seconds"):
        DripConnectionSettings.from_fields("c", "123", "tok", None, {"rate_limit_wait_seconds": -5})
