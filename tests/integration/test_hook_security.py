"""The API token stays where it belongs: in the Authorization header to the configured host.

Redirects to another host carry no credentials, and the token appears in no log line, exception
or repr, whatever path a request takes.
"""

from __future__ import annotations

import base64
import logging

import pytest
import structlog

from airflow_provider_drip.exceptions import (
    DripAPIError,
    DripConfigError,
    DripError,
)
from airflow_provider_drip.hooks.drip import DripHook
from tests.integration.hook_server import (
    ACCOUNT_ID,
    TOKEN,
    HookTestServer,
    Reply,
    connection_json,
)

BASIC = base64.b64encode(f"{TOKEN}:".encode()).decode()
REC = [{"email": "ann@example.com", "action": "Opened a door"}]


@pytest.fixture
def other_host():
    """A second server reached as ``localhost`` (the first is ``127.0.0.1``): another host."""
    srv = HookTestServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def hook(server, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_DRIP_TEST", connection_json(server.url))
    hook = DripHook("drip_test", backoff_base=0.01, backoff_max=0.02)
    yield hook
    hook.close()


@pytest.fixture
def debug_logs(caplog):
    """Emit DEBUG through Airflow's structlog setup (and stdlib, for urllib3) during a test."""
    previous = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
    caplog.set_level(logging.DEBUG)
    yield
    structlog.configure(**previous)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_get_redirect_to_another_host_drops_credentials(server, other_host, hook, status):
    target = f"http://localhost:{other_host.port}/v2/accounts"
    server.script(Reply(status, headers={"Location": target}))
    other_host.script(Reply(200, {"accounts": [{"id": ACCOUNT_ID}]}))

    assert hook.list_accounts() == [{"id": ACCOUNT_ID}]
    assert server.requests[0].header("Authorization") == f"Basic {BASIC}"
    (forwarded,) = other_host.requests
    assert forwarded.header("Host") == f"localhost:{other_host.port}"
    assert forwarded.header("Authorization") is None
    assert TOKEN not in forwarded.raw_head and BASIC not in forwarded.raw_head


def test_redirect_to_another_port_drops_credentials(server, other_host, hook):
    target = f"http://127.0.0.1:{other_host.port}/v2/accounts"
    server.script(Reply(307, headers={"Location": target}))
    other_host.script(Reply(200, {"accounts": []}))
    hook.list_accounts()
    assert other_host.requests[0].header("Authorization") is None


def test_same_host_redirect_keeps_credentials(server, hook):
    server.script(Reply(301, headers={"Location": "/v2/accounts/"}), Reply(200, {"accounts": []}))
    hook.list_accounts()
    assert [r.path for r in server.requests] == ["/v2/accounts", "/v2/accounts/"]
    assert server.requests[1].header("Authorization") == f"Basic {BASIC}"


def test_bearer_is_dropped_on_redirect_too(server, other_host, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_DRIP_BEARER", connection_json(server.url, auth_type="bearer"))
    target = f"http://localhost:{other_host.port}/v2/accounts"
    server.script(Reply(302, headers={"Location": target}))
    other_host.script(Reply(200, {"accounts": []}))
    with DripHook("drip_bearer") as hook:
        hook.list_accounts()
    assert server.requests[0].header("Authorization") == f"Bearer {TOKEN}"
    assert other_host.requests[0].header("Authorization") is None


def test_redirect_loop_fails_fast(server, hook):
    server.default = Reply(302, headers={"Location": "/v2/accounts"})
    with pytest.raises(DripError, match="TooManyRedirects"):
        hook.list_accounts()
    assert len(server.requests) == hook.max_redirects + 1  # not retried


def test_authorization_is_not_a_session_header(hook):
    # Session headers would be copied into every request, whatever its host; the header is
    # added per request by an auth handler that requests drops on cross-host redirects.
    assert "Authorization" not in hook.session.headers
    assert TOKEN not in repr(hook.session.auth)


@pytest.mark.parametrize("status", [302, 307, 308])
def test_batch_post_does_not_follow_redirects(server, other_host, hook, status):
    target = f"http://localhost:{other_host.port}/v2/{ACCOUNT_ID}/events/batches?x=1"
    server.script(Reply(status, headers={"Location": target}))
    with pytest.raises(DripAPIError) as info:
        hook.post_batch("events", REC)
    assert other_host.requests == []  # neither the batch nor the token went elsewhere
    assert len(server.requests) == 1
    text = str(info.value)
    assert info.value.status == status
    assert f"localhost:{other_host.port}/v2/{ACCOUNT_ID}/events/batches" in text
    assert "connection host" in text


def test_token_never_logged_or_raised(server, hook, debug_logs, caplog, capsys):
    rate_limited = {"message": "API rate limit exceeded."}
    server.script(
        Reply(201, {}),
        Reply(429, rate_limited, {"Retry-After": "0"}),
        Reply(503),
        Reply(201, {}),
        Reply(422, {"errors": [{"code": "presence_error", "attribute": "email"}]}),
        Reply(drop=True),
        Reply(429, rate_limited, {"Retry-After": "900"}),
        Reply(401, {"errors": [{"code": "authentication_error"}]}),
        Reply(404, {"errors": [{"code": "not_found_error"}]}),
    )
    texts: list[str] = [repr(hook), repr(hook.settings), str(hook.settings)]
    hook._sleep = lambda _: None  # the 429 wait is floored at 5 s: not slept for real here
    hook.post_batch("events", REC)
    hook.post_batch("events", REC, max_rate_limit_wait=5)
    for call in (
        lambda: hook.post_batch("events", REC),
        lambda: hook.post_batch("events", REC),
        lambda: hook.post_batch("events", REC),
        lambda: hook.list_accounts(),
        lambda: hook.get_request_status("r-1"),
    ):
        with pytest.raises(DripError) as info:
            call()
        texts += [str(info.value), repr(info.value)]
    texts.append(hook.test_connection()[1])  # the script is used up: 200 {} -> no accounts
    texts.append(repr(hook))

    out = capsys.readouterr()
    logged = out.out + out.err + caplog.text
    assert "rate limited" in logged.lower() and "HTTP 503" in logged  # the logs were captured
    assert "-> HTTP 201" in logged  # DEBUG lines too
    assert len(server.requests) == 10
    assert all(r.header("Authorization") == f"Basic {BASIC}" for r in server.requests)
    for text in [*texts, logged]:
        assert TOKEN not in text
        assert BASIC not in text


def test_token_registered_for_masking(hook):
    from airflow.sdk._shared.secrets_masker import redact

    hook.settings  # noqa: B018 - loading the settings registers the token
    assert TOKEN not in str(redact(f"token={TOKEN}"))
    assert BASIC not in str(redact(f"Authorization: Basic {BASIC}"))


@pytest.mark.parametrize(
    ("login", "password", "missing"),
    [
        (ACCOUNT_ID, "", "password (API Token)"),
        ("", TOKEN, "login (Account ID)"),
        ("  ", "  ", "login (Account ID) and password (API Token)"),
    ],
)
def test_missing_credentials(server, monkeypatch, login, password, missing):
    monkeypatch.setenv(
        "AIRFLOW_CONN_DRIP_INCOMPLETE", connection_json(server.url, login=login, password=password)
    )
    hook = DripHook("drip_incomplete")
    with pytest.raises(DripConfigError) as info:
        hook.post_batch("subscribers", REC)
    text = str(info.value)
    assert "'drip_incomplete'" in text and missing in text
    assert server.requests == []


def test_plain_http_to_a_remote_host_is_refused(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_DRIP_REMOTE", connection_json("http://api.getdrip.com"))
    hook = DripHook("drip_remote")
    with pytest.raises(DripConfigError) as info:
        hook.list_accounts()
    text = str(info.value)
    assert "'drip_remote'" in text and "https" in text
    assert TOKEN not in text


def test_unknown_connection(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_DRIP_NOWHERE", raising=False)
    with pytest.raises(Exception, match="drip_nowhere"):
        DripHook("drip_nowhere").settings  # noqa: B018
