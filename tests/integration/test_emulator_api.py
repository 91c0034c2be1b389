"""The emulator's Drip API over real HTTP: routes, envelopes, auth, content types, validation."""

from __future__ import annotations

import base64
import http.client
import json
from urllib.parse import urlsplit

import pytest
import requests

from airflow_provider_drip.resources import RESOURCES

pytestmark = pytest.mark.integration

VALID = {
    "subscribers": {"email": "a@example.com", "tags": ["Customer"], "custom_fields": {"k": "v"}},
    "unsubscribes": {"email": "a@example.com"},
    "events": {"email": "a@example.com", "action": "Logged in",
               "occurred_at": "2024-01-01T00:00:00Z"},
    "orders": {"email": "a@example.com", "amount": 4900,
               "items": [{"name": "Canoe", "amount": 4900}]},
    "cart": {
        "provider": "my_store", "email": "a@example.com", "action": "created", "cart_id": "c1",
        "cart_url": "https://shop.example.com/cart/c1",
        "items": [{"product_id": "p", "product_variant_id": "p", "name": "P", "price": 1.5}],
    },
    "order": {
        "provider": "my_store", "person_id": "x1", "action": "placed", "order_id": "o1",
        "items": [{"name": "P"}],
    },
    "product": {
        "provider": "my_store", "action": "created", "product_id": "p", "product_variant_id": "p",
        "name": "P", "price": 11.16, "inventory": 3,
    },
}  # fmt: skip


def body_for(resource: str, records: list) -> dict:
    return RESOURCES[resource].envelope(records)


def post(emu, resource, records=None, body=None, headers=None, **kwargs):
    payload = body if body is not None else body_for(resource, records)
    return requests.post(
        emu.batch_url(resource),
        data=json.dumps(payload),
        headers=headers if headers is not None else emu.headers(),
        timeout=10,
        **kwargs,
    )


@pytest.mark.parametrize("resource", sorted(RESOURCES))
def test_success_status_body_and_headers(drip_emulator, resource):
    spec = RESOURCES[resource]
    response = post(drip_emulator, resource, [VALID[resource], VALID[resource]])
    assert response.status_code == spec.success_status, response.text
    assert response.headers["X-RateLimit-Limit"] == "50"
    assert response.headers["X-RateLimit-Remaining"] == "49"
    assert int(response.headers["Content-Length"]) == len(response.content)
    if spec.success_status == 204:
        assert response.content == b""
    elif spec.returns_request_ids:
        ids = response.json()["request_ids"]
        assert len(ids) == 2 and len(set(ids)) == 2
    else:
        assert response.json() == {}
    stats = drip_emulator.control.stats()["resources"][resource]
    assert stats["records_accepted"] == 2 and stats["batch_sizes"] == [2]
    assert drip_emulator.control.records(resource) == [VALID[resource], VALID[resource]]


def test_auth_schemes(drip_emulator):
    emu = drip_emulator
    url, record = emu.batch_url("subscribers"), [VALID["subscribers"]]

    def with_auth(value):
        headers = {"Content-Type": "application/json"}
        if value is not None:
            headers["Authorization"] = value
        return post(emu, "subscribers", record, headers=headers).status_code

    def basic(userpass: str) -> str:
        return "Basic " + base64.b64encode(userpass.encode()).decode()

    assert with_auth(None) == 401
    assert with_auth(basic("wrong-token:")) == 401
    assert with_auth(basic(f"{emu.token}:not-empty")) == 401
    assert with_auth("Basic !!!not-base64") == 401
    assert with_auth("Bearer wrong") == 401
    assert with_auth(f"Token {emu.token}") == 401
    assert with_auth(basic(f"{emu.token}:")) == 201
    assert with_auth(f"Bearer {emu.token}") == 201
    response = requests.post(url, json={"batches": []}, timeout=5)
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "authentication_error"
    stats = emu.control.stats()
    assert stats["auth_schemes"] == {"none": 2, "basic": 4, "bearer": 2, "token": 1}
    assert stats["errors"]["401"] == 7
    assert stats["rate_limit"]["remaining"] == 48  # 401s cost no rate-limit budget


def test_other_account_and_unknown_routes(drip_emulator):
    emu = drip_emulator
    other = emu.batch_url("subscribers").replace(f"/{emu.account_id}/", "/1234567/")
    response = requests.post(other, json=body_for("subscribers", [VALID["subscribers"]]),
                             headers=emu.headers(), timeout=5)  # fmt: skip
    assert response.status_code == 403
    assert response.json() == {
        "errors": [
            {"code": "authorization_error",
             "message": "You are not authorized to access this resource"}
        ]
    }  # fmt: skip
    for path in ("/v2/nothing/here", f"/v2/{emu.account_id}/subscribers/nobody@example.com"):
        response = requests.get(emu.url + path, headers=emu.headers(), timeout=5)
        assert response.status_code == 404
        assert response.json()["errors"][0]["code"] == "not_found_error"
    response = requests.get(f"{emu.url}/v2/1234567/subscribers/a@b.co", headers=emu.headers())
    assert response.status_code == 403


def test_content_type_and_json_errors(drip_emulator):
    emu = drip_emulator
    body = json.dumps(body_for("events", [VALID["events"]]))
    plain = {**emu.headers(), "Content-Type": "text/plain"}
    assert requests.post(emu.batch_url("events"), data=body, headers=plain).status_code == 415
    no_type = {k: v for k, v in emu.headers().items() if k != "Content-Type"}
    assert requests.post(emu.batch_url("events"), data=body, headers=no_type).status_code == 415
    charset = {**emu.headers(), "Content-Type": "application/json; charset=utf-8"}
    assert requests.post(emu.batch_url("events"), data=body, headers=charset).status_code == 201
    broken = requests.post(emu.batch_url("events"), data=b'{"batches": [', headers=emu.headers())
    assert broken.status_code == 400
    assert broken.json()["errors"][0]["code"] == "format_error"
    stats = emu.control.stats()
    assert stats["errors"]["4xx"] == 3 and stats["rate_limit"]["remaining"] == 46


@pytest.mark.parametrize(
    ("resource", "body", "attribute", "code"),
    [
        ("subscribers", {"subscribers": [{"email": "a@b.co"}]}, "batches", "presence_error"),
        ("subscribers", {"batches": [{"people": [{"email": "a@b.co"}]}]}, "subscribers",
         "presence_error"),
        ("subscribers", {"batches": [{"subscribers": []}]}, "subscribers", "length_error"),
        ("subscribers", {"batches": [{"subscribers": {"email": "a@b.co"}}]}, "subscribers",
         "format_error"),
        ("events", {"batches": [{"events": [{"email": "a@b.co", "action": "x"}] * 1001}]},
         "events", "length_error"),
        ("cart", {"batches": [{"carts": [VALID["cart"]]}]}, "carts", "presence_error"),
        ("product", {"products": [VALID["product"]] * 1001}, "products", "length_error"),
        ("order", [VALID["order"]], "base", "format_error"),
    ],
)  # fmt: skip
def test_envelope_errors(drip_emulator, resource, body, attribute, code):
    response = post(drip_emulator, resource, body=body)
    assert response.status_code == 422, response.text
    error = response.json()["errors"][0]
    assert (error["attribute"], error["code"]) == (attribute, code)
    assert drip_emulator.control.stats()["resources"][resource]["records_accepted"] == 0


def test_exactly_1000_records_accepted(drip_emulator):
    records = [{"email": f"u{i}@example.com"} for i in range(1000)]
    assert post(drip_emulator, "subscribers", records).status_code == 201


def _with(resource, **changes):
    record = json.loads(json.dumps(VALID[resource]))
    for key, value in changes.items():
        if value is ...:
            record.pop(key, None)
        else:
            record[key] = value
    return record


@pytest.mark.parametrize(
    ("resource", "bad", "attribute", "code"),
    [
        ("subscribers", _with("subscribers", email=...), "email", "presence_error"),
        ("subscribers", _with("subscribers", email="not-an-email"), "email", "email_error"),
        ("subscribers", _with("subscribers", tags=["Customer", 7]), "tags", "format_error"),
        ("subscribers", _with("subscribers", sms_number="612555"), "sms_number", "sms_error"),
        ("subscribers", _with("subscribers", eu_consent="maybe"), "eu_consent", "format_error"),
        ("subscribers", _with("subscribers", lifetime_value="100"), "lifetime_value",
         "format_error"),
        ("unsubscribes", {"first_name": "x"}, "email", "presence_error"),
        ("events", _with("events", action=...), "action", "presence_error"),
        ("events", _with("events", action=""), "action", "presence_error"),
        ("events", _with("events", occurred_at="yesterday"), "occurred_at", "time_error"),
        ("events", _with("events", occurred_at="2024-02-30T00:00:00Z"), "occurred_at",
         "time_error"),
        ("events", _with("events", properties=[1]), "properties", "format_error"),
        ("orders", _with("orders", amount=...), "amount", "presence_error"),
        ("orders", _with("orders", amount="49.00"), "amount", "format_error"),
        ("orders", _with("orders", items=[{"name": "Canoe"}]), "items[0].amount",
         "presence_error"),
        ("orders", _with("orders", financial_state="lost"), "financial_state", "format_error"),
        ("orders", _with("orders", closed_at="2013-06-21 10:35"), None, None),
        ("cart", _with("cart", cart_url=...), "cart_url", "presence_error"),
        ("cart", _with("cart", cart_url="not a url"), "cart_url", "url_error"),
        ("cart", _with("cart", action="deleted"), "action", "format_error"),
        ("cart", _with("cart", email=...), "person_id", "presence_error"),
        ("cart", _with("cart", items=["p"]), "items", "format_error"),
        ("cart", _with("cart", items=[{"product_id": "p", "product_variant_id": "p",
                                       "name": "P"}]), "items[0].price", "presence_error"),
        ("order", _with("order", action="shipped"), "action", "format_error"),
        ("order", _with("order", order_id=...), "order_id", "presence_error"),
        ("order", _with("order", items=[{"price": 1}]), "items[0].name", "presence_error"),
        ("order", _with("order", grand_total="54.00"), "grand_total", "format_error"),
        ("product", _with("product", action="archived"), "action", "format_error"),
        ("product", _with("product", price=...), "price", "presence_error"),
        ("product", _with("product", inventory=4.5), "inventory", "format_error"),
        ("product", _with("product", price=True), "price", "format_error"),
        ("product", "not an object", "base", "format_error"),
    ],
)  # fmt: skip
def test_record_rules_reject_the_whole_batch(drip_emulator, resource, bad, attribute, code):
    response = post(drip_emulator, resource, [VALID[resource], bad, VALID[resource]])
    if attribute is None:  # a valid variation (space-separated ISO-8601 time)
        assert response.status_code == RESOURCES[resource].success_status, response.text
        return
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert {"code": code, "attribute": attribute} == {
        "code": errors[0]["code"],
        "attribute": errors[0]["attribute"],
    }
    assert f"{RESOURCES[resource].records_key}[1]" in errors[0]["message"]
    stats = drip_emulator.control.stats()
    assert stats["resources"][resource]["records_accepted"] == 0
    assert stats["resources"][resource]["requests_rejected"] == 1
    assert stats["errors"]["422"] == 1
    assert response.headers["X-RateLimit-Remaining"] == "49"  # a 422 costs a request


def test_accounts_and_subscriber_read_back(drip_emulator):
    emu = drip_emulator
    accounts = requests.get(f"{emu.url}/v2/accounts", headers=emu.headers()).json()
    assert [a["id"] for a in accounts["accounts"]] == [emu.account_id]
    assert set(accounts["links"]) == {"accounts.broadcasts", "accounts.campaigns", "accounts.goals"}
    one = requests.get(f"{emu.url}/v2/accounts/{emu.account_id}", headers=emu.headers())
    assert one.json()["accounts"][0]["id"] == emu.account_id

    first = {"email": "Jane@Example.com", "first_name": "Jane", "tags": ["A", "B"],
             "custom_fields": {"size": "M"}}  # fmt: skip
    second = {"email": "jane@example.com", "remove_tags": ["A"], "custom_fields": {"k": 1}}
    assert post(emu, "subscribers", [first, second]).status_code == 201
    url = f"{emu.url}/v2/{emu.account_id}/subscribers/"
    body = requests.get(url + "jane%40example.com", headers=emu.headers()).json()
    assert set(body) == {"links", "subscribers"}
    person = body["subscribers"][0]
    assert person["status"] == "active" and person["first_name"] == "Jane"
    assert person["tags"] == ["B"] and person["custom_fields"] == {"size": "M", "k": 1}
    by_id = requests.get(url + person["id"], headers=emu.headers()).json()["subscribers"][0]
    assert by_id["email"] == person["email"]
    assert post(emu, "unsubscribes", [{"email": "jane@example.com"}]).status_code == 204
    again = requests.get(url + "JANE@example.com", headers=emu.headers()).json()
    assert again["subscribers"][0]["status"] == "unsubscribed"


def test_keep_alive_connection_survives_every_kind_of_answer(drip_emulator):
    emu = drip_emulator
    parts = urlsplit(emu.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    good = json.dumps(body_for("unsubscribes", [{"email": "a@b.co"}])).encode()
    bad = json.dumps(body_for("unsubscribes", [{"email": "nope"}])).encode()
    path = RESOURCES["unsubscribes"].path(emu.account_id)
    anonymous = {"Content-Type": "application/json"}
    expected = [
        (good, emu.headers(), 204),
        (bad, emu.headers(), 422),
        (good, anonymous, 401),
        (good, emu.headers(), 204),
    ]
    sockets = set()
    for payload, headers, status in expected:
        conn.request("POST", path, body=payload, headers=headers)
        response = conn.getresponse()
        content = response.read()
        assert response.status == status
        assert int(response.getheader("Content-Length")) == len(content)
        sockets.add(id(conn.sock))
    conn.request("GET", "/v2/accounts", headers=emu.headers())
    assert conn.getresponse().read()
    assert len(sockets) == 1  # one TCP connection served all of them
    conn.close()


def test_chunked_request_body(drip_emulator):
    emu = drip_emulator
    payload = json.dumps(body_for("events", [VALID["events"]])).encode()
    response = requests.post(
        emu.batch_url("events"),
        data=iter([payload[:10], payload[10:]]),  # a generator body is sent chunked
        headers=emu.headers(),
        timeout=5,
    )
    assert response.status_code == 201, response.text
