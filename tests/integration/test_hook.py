"""DripHook over real HTTP: what goes on the wire and how answers are read.

Connections come from ``AIRFLOW_CONN_*`` environment variables, as in a real deployment.
"""

from __future__ import annotations

import base64
import json

import pytest

from airflow_provider_drip import get_provider_info
from airflow_provider_drip.exceptions import DripAPIError
from airflow_provider_drip.hooks.drip import DripHook
from airflow_provider_drip.hooks.responses import BatchResponse
from airflow_provider_drip.version import __version__
from tests.integration.hook_server import ACCOUNT_ID, TOKEN, Reply, connection_json

REC = {"email": "ann@example.com"}

# Expected request per resource, written out literally (not derived from resources.py).
WIRE = {
    "subscribers": (
        f"/v2/{ACCOUNT_ID}/subscribers/batches",
        b'{"batches":[{"subscribers":[{"email":"ann@example.com"}]}]}',
        201,
    ),
    "unsubscribes": (
        f"/v2/{ACCOUNT_ID}/unsubscribes/batches",
        b'{"batches":[{"subscribers":[{"email":"ann@example.com"}]}]}',
        204,
    ),
    "events": (
        f"/v2/{ACCOUNT_ID}/events/batches",
        b'{"batches":[{"events":[{"email":"ann@example.com"}]}]}',
        201,
    ),
    "orders": (
        f"/v2/{ACCOUNT_ID}/orders/batches",
        b'{"batches":[{"orders":[{"email":"ann@example.com"}]}]}',
        202,
    ),
    "cart": (
        f"/v3/{ACCOUNT_ID}/shopper_activity/cart/batch",
        b'{"carts":[{"email":"ann@example.com"}]}',
        202,
    ),
    "order": (
        f"/v3/{ACCOUNT_ID}/shopper_activity/order/batch",
        b'{"orders":[{"email":"ann@example.com"}]}',
        202,
    ),
    "product": (
        f"/v3/{ACCOUNT_ID}/shopper_activity/product/batch",
        b'{"products":[{"email":"ann@example.com"}]}',
        202,
    ),
}


@pytest.mark.parametrize("resource", sorted(WIRE))
def test_each_resource_path_and_envelope(server, make_hook, resource):
    path, body, status = WIRE[resource]
    v3 = path.startswith("/v3/")
    reply_body = {"request_ids": ["r-1"]} if v3 else ({} if status != 204 else None)
    server.script(
        Reply(status, reply_body, {"X-RateLimit-Limit": "50", "X-RateLimit-Remaining": "49"})
    )
    result = make_hook().post_batch(resource, [REC])

    (req,) = server.requests
    assert req.request_line == f"POST {path} HTTP/1.1"
    assert req.body == body
    assert isinstance(result, BatchResponse)
    assert (result.status, result.resource, result.record_count) == (status, resource, 1)
    assert result.request_ids == (["r-1"] if v3 else [])
    assert (result.rate_limit_limit, result.rate_limit_remaining) == (50, 49)
    assert result.attempts == 1 and result.rate_limit_waited_s == 0.0
    assert result.elapsed_s > 0


def test_basic_auth_user_agent_and_content_headers(server, make_hook):
    server.script(Reply(201, {}))
    make_hook(user_agent="my-team (data@acme.com)").post_batch("subscribers", [REC, REC])
    (req,) = server.requests
    expected = base64.b64encode(f"{TOKEN}:".encode()).decode()
    assert req.header("Authorization") == f"Basic {expected}"
    assert (
        req.header("User-Agent") == f"airflow-provider-drip/{__version__} my-team (data@acme.com)"
    )
    assert req.header("Content-Type") == "application/json"
    assert req.header("Accept") == "application/json"
    assert req.header("Content-Length") == str(len(req.body))
    assert req.json()["batches"][0]["subscribers"] == [REC, REC]


def test_bearer_auth(server, make_hook):
    server.script(Reply(201, {}))
    make_hook(auth_type="bearer").post_batch("subscribers", [REC])
    assert server.requests[0].header("Authorization") == f"Bearer {TOKEN}"


def test_default_user_agent_and_get_has_no_content_type(server, make_hook):
    server.script(Reply(200, {"accounts": []}))
    make_hook().list_accounts()
    (req,) = server.requests
    assert req.header("User-Agent") == f"airflow-provider-drip/{__version__}"
    assert req.header("Content-Type") is None
    assert req.header("Accept") == "application/json"


def test_pre_serialised_body_is_sent_byte_for_byte(server, make_hook):
    body = (
        b'{"batches":[{"events":[{"email":"a@x.io","action":"caf\\u00e9"},'
        b'{"email":"b@x.io","action":"x"}]}]}'
    )
    server.script(Reply(201, {}))
    result = make_hook().post_batch("events", body=body, record_count=2)
    assert server.requests[0].body == body
    assert result.record_count == 2


def test_records_are_compact_json(server, make_hook):
    server.script(Reply(201, {}))
    make_hook().post_batch(
        "events", [{"email": "a@x.io", "action": "café", "properties": {"n": 1.5}}]
    )
    assert server.requests[0].body == (
        b'{"batches":[{"events":[{"email":"a@x.io","action":"caf\\u00e9","properties":{"n":1.5}}]}]}'
    )


def test_unexpected_2xx_is_accepted_with_a_warning(server, make_hook, capsys):
    server.script(Reply(200, {}))
    result = make_hook().post_batch("subscribers", [REC])
    assert result.status == 200
    assert "expected 201" in capsys.readouterr().out


def test_success_headers_are_reported(server, make_hook):
    server.script(
        Reply(
            201,
            {},
            {"X-RateLimit-Remaining": "0", "Retry-After": "120", "X-RateLimit-Reset": "1900000000"},
        )
    )
    result = make_hook().post_batch("subscribers", [REC])
    assert result.rate_limit_remaining == 0
    assert result.retry_after == 120.0
    assert result.rate_limit_reset_at is not None
    assert int(result.rate_limit_reset_at.timestamp()) == 1900000000


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"records": []}, "1 to 1000"),
        ({"records": [REC] * 1001}, "1 to 1000"),
        ({"records": [REC], "body": b"{}"}, "exactly one"),
        ({}, "exactly one"),
        ({"body": b"{}"}, "record_count"),
        ({"records": [{"email": "a@x.io", "score": float("nan")}]}, "JSON"),
    ],
)
def test_bad_arguments_send_nothing(server, make_hook, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_hook().post_batch("subscribers", **kwargs)
    assert server.requests == []


def test_unknown_resource(make_hook):
    with pytest.raises(ValueError, match="Unknown Drip batch resource"):
        make_hook().post_batch("contacts", [REC])


def test_list_accounts(server, make_hook):
    accounts = [{"id": ACCOUNT_ID, "name": "Acme"}, {"id": "1", "name": "Other"}]
    server.script(Reply(200, {"links": {}, "accounts": accounts}))
    assert make_hook().list_accounts() == accounts
    assert server.requests[0].request_line == "GET /v2/accounts HTTP/1.1"


def test_test_connection_success(server, make_hook):
    server.script(Reply(200, {"accounts": [{"id": 1}, {"id": int(ACCOUNT_ID), "name": "Acme"}]}))
    ok, message = make_hook().test_connection()
    assert ok is True
    assert ACCOUNT_ID in message and "Acme" in message


def test_test_connection_wrong_account(server, make_hook):
    server.script(Reply(200, {"accounts": [{"id": "111"}, {"id": "222"}]}))
    ok, message = make_hook().test_connection()
    assert ok is False
    assert ACCOUNT_ID in message and "111, 222" in message
    assert TOKEN not in message


def test_test_connection_bad_token(server, make_hook):
    server.script(
        Reply(401, {"errors": [{"code": "authentication_error", "message": "Bad token"}]})
    )
    ok, message = make_hook().test_connection()
    assert ok is False
    assert "401" in message and "Bad token" in message
    assert TOKEN not in message


def test_test_connection_unreachable_never_raises(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_DRIP_DOWN", connection_json("http://127.0.0.1:1"))
    hook = DripHook("drip_down", max_retries=0)
    ok, message = hook.test_connection()
    assert ok is False and "refused" in message.lower()


def test_test_connection_bad_config_never_raises(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_DRIP_BAD", connection_json("http://drip.example.com"))
    ok, message = DripHook("drip_bad").test_connection()
    assert ok is False and "https" in message


def test_get_request_status(server, make_hook):
    server.script(
        Reply(
            200,
            {
                "request_id": "r-1",
                "status": "failed",
                "errors": [
                    {"code": "presence_error", "attribute": "email", "message": "Email is required"}
                ],
            },
        )
    )
    status = make_hook().get_request_status("r-1")
    assert server.requests[0].path == f"/v3/{ACCOUNT_ID}/shopper_activity/requests/r-1"
    assert (status.request_id, status.status, status.is_terminal) == ("r-1", "failed", True)
    assert status.errors[0].attribute == "email"


def test_get_request_status_custom_path(server, make_hook):
    server.script(Reply(200, {"status": "queued"}))
    hook = make_hook(request_status_path="/v3/{account_id}/requests/{request_id}/status")
    status = hook.get_request_status("r/2")
    assert server.requests[0].path == f"/v3/{ACCOUNT_ID}/requests/r%2F2/status"
    assert (status.request_id, status.status) == ("r/2", "queued")


def test_get_request_status_404_explains_the_assumed_path(server, make_hook):
    server.script(Reply(404, {"errors": [{"code": "not_found_error", "message": "Not found"}]}))
    with pytest.raises(DripAPIError) as info:
        make_hook().get_request_status("r-404")
    err = info.value
    assert err.status == 404
    text = str(err)
    assert "r-404" in text and "request_status_path" in text and "not_found_error" in text
    assert len(server.requests) == 1


def test_get_subscriber(server, make_hook):
    sub = {"id": "z1", "email": "a+b@x.io"}
    server.script(Reply(200, {"subscribers": [sub]}))
    assert make_hook().get_subscriber("a+b@x.io") == sub
    assert server.requests[0].path == f"/v2/{ACCOUNT_ID}/subscribers/a%2Bb%40x.io"


def test_get_subscriber_missing(server, make_hook):
    server.script(Reply(404, {"errors": [{"code": "not_found_error"}]}))
    assert make_hook().get_subscriber("nobody@x.io") is None


def test_get_subscriber_401_raises(server, make_hook):
    server.script(Reply(401, {"errors": [{"code": "authentication_error"}]}))
    with pytest.raises(DripAPIError) as info:
        make_hook().get_subscriber("a@x.io")
    assert info.value.status == 401


def test_connection_read_from_environment(server, make_hook):
    hook = make_hook(timeout=[3, 7], rate_limit_wait_seconds=90)
    assert hook.account_id == ACCOUNT_ID
    settings = hook.settings
    assert settings.base_url == server.url
    assert (settings.connect_timeout, settings.read_timeout) == (3.0, 7.0)
    assert settings.rate_limit_wait_seconds == 90.0
    assert hook.settings is settings  # cached


def test_settings_parameter_skips_the_connection(server):
    from airflow_provider_drip.hooks.settings import DripConnectionSettings

    settings = DripConnectionSettings.from_fields("not_in_env", ACCOUNT_ID, TOKEN, server.url)
    server.script(Reply(201, {}))
    with DripHook(settings=settings) as hook:
        assert hook.drip_conn_id == "not_in_env"
        assert hook.post_batch("subscribers", [REC]).status == 201
    assert hook._session is None  # closed by the context manager


def test_ui_field_behaviour_comes_from_provider_info():
    (entry,) = get_provider_info()["connection-types"]
    behaviour = entry["ui-field-behaviour"]
    got = DripHook.get_ui_field_behaviour()
    assert got["hidden_fields"] == behaviour["hidden-fields"]
    assert got["relabeling"] == behaviour["relabeling"]
    assert got["placeholders"] == behaviour["placeholders"]
    assert got["relabeling"]["password"] == "API Token"
    json.dumps(got)


def test_proxy_environment_is_honoured_though_read_once(server, make_hook, monkeypatch):
    """The session reads HTTP(S)_PROXY / NO_PROXY once (not per request) and still uses them."""
    monkeypatch.setenv("HTTP_PROXY", server.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    server.default = Reply(201, {})
    hook = make_hook("http://127.0.0.1:9")  # nothing listens there: only the proxy can answer
    hook.post_batch("subscribers", [REC])
    (req,) = server.requests
    assert req.request_line.startswith("POST http://127.0.0.1:9/v2/")


def test_no_proxy_environment_bypasses_the_proxy(server, make_hook, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # a proxy that is not there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    server.default = Reply(201, {})
    make_hook().post_batch("subscribers", [REC])
    assert server.requests[0].request_line.startswith("POST /v2/")


def test_gzip_requests_extra_compresses_batches(server, make_hook):
    import gzip

    server.script(Reply(201, {}), Reply(200, {"accounts": []}))
    hook = make_hook(gzip_requests=True)
    hook.post_batch("subscribers", [REC])
    hook.list_accounts()
    batch, read = server.requests
    assert batch.header("Content-Encoding") == "gzip"
    assert gzip.decompress(batch.body) == WIRE["subscribers"][1]
    assert batch.header("Content-Length") == str(len(batch.body))
    assert read.header("Content-Encoding") is None  # GETs carry no body


def test_batches_are_not_gzipped_by_default(server, make_hook):
    server.script(Reply(201, {}))
    make_hook().post_batch("subscribers", [REC])
    assert server.requests[0].header("Content-Encoding") is None
    assert server.requests[0].body == WIRE["subscribers"][1]
