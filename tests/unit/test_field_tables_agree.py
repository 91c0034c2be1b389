"""The client's field tables (records/field_tables.py) and the emulator's (emulator/validation.py)
are written separately on purpose, each from Drip's docs. These tests keep them from drifting:
the same fields, required fields, "one of" groups, types and enum values per resource; and a
record the client passes (after its normalising) is one the emulator's validation accepts."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_drip.emulator import validation as E
from airflow_provider_drip.records import RecordPipeline
from airflow_provider_drip.records import field_tables as R
from airflow_provider_drip.resources import RESOURCES, get_resource

EMULATOR_KIND = {
    R.STRING: "str",
    R.ID: "id",
    R.NUMBER: "num",
    R.INTEGER: "int",
    R.BOOLEAN: "bool",
    R.DATETIME: "time",
    R.EMAIL: "email",
    R.URL: "url",
    R.SMS_NUMBER: "sms",
    R.LIST_OF_STRINGS: "strs",
    R.OBJECT: "obj",
    R.ITEMS: "list",
}


def _table_shape(fields: Any) -> dict[str, tuple[Any, ...]]:
    """name -> (required, kind, enum values, item shape) in the emulator's vocabulary."""
    out: dict[str, tuple[Any, ...]] = {}
    for name, spec in fields.items():
        kind = "enum" if spec.enum else EMULATOR_KIND[spec.type]
        items = _table_shape(spec.fields) if spec.type == R.ITEMS else None
        out[name] = (spec.required, kind, tuple(spec.enum or ()), items)
    return out


def _schema_shape(schema: E.Schema) -> dict[str, tuple[Any, ...]]:
    return {
        rule.name: (
            rule.required,
            rule.kind,
            rule.allowed,
            _schema_shape(rule.items) if rule.items is not None else None,
        )
        for rule in schema.fields
    }


@pytest.mark.parametrize("resource", sorted(RESOURCES))
def test_client_and_emulator_tables_agree(resource: str) -> None:
    rules = R.get_rules(resource)
    schema = E.SCHEMAS[resource]
    assert _table_shape(rules.fields) == _schema_shape(schema)
    assert rules.one_of == schema.one_of


def test_the_comparison_sees_a_drift() -> None:
    """The comparison itself can fail: a changed type or required flag shows."""
    rules = R.get_rules("product")
    drifted = {**rules.fields, "inventory": R.opt(R.NUMBER), "sku": R.req(R.STRING)}
    assert _table_shape(drifted) != _schema_shape(E.SCHEMAS["product"])


# -- the client is never looser than the server ---------------------------------------------

VALID: dict[str, dict[str, Any]] = {
    "subscribers": {"email": "john@acme.com"},
    "unsubscribes": {"email": "john@acme.com"},
    "events": {"email": "john@acme.com", "action": "Logged in"},
    "orders": {"email": "john@acme.com", "amount": 4900},
    "cart": {
        "provider": "shop",
        "email": "u@example.com",
        "action": "created",
        "cart_id": "1",
        "cart_url": "https://shop.example.com/cart/1",
    },
    "order": {"provider": "shop", "email": "u@example.com", "action": "placed", "order_id": "1"},
    "product": {
        "provider": "shop",
        "action": "created",
        "product_id": "p",
        "product_variant_id": "v",
        "name": "Bottle",
        "price": 11.16,
    },
}

TRICKY_TIMES = [
    "2024-01-01T10:00:00Z",
    "2024-01-01 10:00",
    "2024-01-01T10:00:00.123456789+01:00",
    "2024-01-01",
    "20240101",
    "2024-01-01T10",
    "2024-W01-1",
    "2024-13-01T10:00",
    "2024-01-01T10:00:00+0100",
    "2024-01-01T10:00\n",
    "2024-01-01t10:00z",
]
TRICKY_URLS = [
    "https://example.com",
    "http://.example.com",
    "http://example..com",
    "http://exa mple.com",
    "http://example.com:99999999",
    "https://user@example.com/",
    "http://[::1]/",
    "HTTP://EXAMPLE.COM/x?y#z",
    "ftp://example.com",
    "http://example.com\n",
    "http://ünicode.example/",
]
TRICKY_EMAILS = ["a@b.co", "a@b", "a@b.c.", "@b.co", "a b@c.co", "a@b.co\n", "a@@b.co"]

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(), st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
numbers = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.decimals(allow_nan=False, places=2, max_value=10**9, min_value=-(10**9)),
    st.sampled_from([5.0, 5.5, 1e300, -0.0, True, "5", Decimal("7"), Decimal("7.5")]),
)


def _value(spec: R.Field) -> st.SearchStrategy[Any]:
    t = spec.type
    if spec.enum:
        return st.one_of(st.sampled_from(spec.enum), st.sampled_from(["", "bogus", 1]))
    if t == R.STRING:
        return st.one_of(st.text(max_size=10), st.integers(), st.none())
    if t == R.ID:
        return st.one_of(st.text(max_size=10), st.integers(-(2**63), 2**63 - 1), st.floats())
    if t in (R.NUMBER, R.INTEGER):
        return numbers
    if t == R.BOOLEAN:
        return st.one_of(st.booleans(), st.integers(0, 1), st.sampled_from(["true", ""]))
    if t == R.DATETIME:
        return st.one_of(
            st.sampled_from(TRICKY_TIMES),
            st.datetimes().map(dt.datetime.isoformat),
            st.datetimes(timezones=st.just(dt.timezone.utc)),
            st.dates(),
            st.text(max_size=12),
        )
    if t == R.EMAIL:
        return st.one_of(st.sampled_from(TRICKY_EMAILS), st.emails(), st.text(max_size=10))
    if t == R.URL:
        return st.one_of(
            st.sampled_from(TRICKY_URLS),
            st.from_regex(r"https?://[a-z.\-]{0,8}(:[0-9]{1,6})?(/[a-z]{0,3})?", fullmatch=True),
            st.text(max_size=10),
        )
    if t == R.SMS_NUMBER:
        return st.one_of(st.from_regex(r"\+1\d{10}", fullmatch=True), st.text(max_size=12))
    if t == R.LIST_OF_STRINGS:
        return st.one_of(
            st.lists(st.text(max_size=5), max_size=3),
            st.text(max_size=5),
            st.lists(json_scalars, max_size=3),
            st.frozensets(st.text(max_size=3), max_size=2),
        )
    if t == R.OBJECT:
        if spec.fields:
            return st.one_of(_record(spec.fields), json_values)
        return st.one_of(st.dictionaries(st.text(max_size=5), json_values, max_size=3), json_values)
    if t == R.ITEMS:
        return st.one_of(st.lists(_record(spec.fields or {}), max_size=3), json_values)
    raise AssertionError(t)


def _record(fields: Any, base: dict[str, Any] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    optional = {name: _value(spec) for name, spec in fields.items()}
    optional["custom"] = json_values
    changes = st.fixed_dictionaries({}, optional=optional)
    if base is None:
        return changes
    return changes.map(lambda c: {**base, **c})


def _sent(resource: str, rec: dict[str, Any]) -> list[dict[str, Any]]:
    p = RecordPipeline(resource, records=[rec], on_invalid="skip")
    return [r for chunk in p.chunks() for r in chunk.records()]


@pytest.mark.parametrize("resource", sorted(RESOURCES))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_what_the_client_sends_the_emulator_accepts(resource: str, data: st.DataObject) -> None:
    rules = R.get_rules(resource)
    rec = data.draw(_record(rules.fields, VALID[resource]))
    key = get_resource(resource).records_key
    for sent in _sent(resource, rec):
        # What went over the wire, decoded as the server decodes it.
        wire = msgspec.json.decode(msgspec.json.encode(sent))
        assert E.validate_record(wire, E.SCHEMAS[resource], key, 0) == [], (rec, wire)


@pytest.mark.parametrize(
    ("resource", "change", "sent"),
    [
        ("subscribers", {"tags": "vip"}, {"tags": ["vip"]}),
        ("subscribers", {"remove_tags": "old"}, {"remove_tags": ["old"]}),
        ("subscribers", {"lifetime_value": 5.0}, {"lifetime_value": 5}),
        ("orders", {"amount": Decimal("4900")}, {"amount": 4900}),
        ("product", {"categories": "Shoes"}, {"categories": ["Shoes"]}),
    ],
)
def test_documented_alternative_forms_are_sent_canonical(
    resource: str, change: dict[str, Any], sent: dict[str, Any]
) -> None:
    (out,) = _sent(resource, {**VALID[resource], **change})
    assert out == {**VALID[resource], **sent}
    assert all(type(out[k]) is type(v) for k, v in sent.items())


@pytest.mark.parametrize(
    ("resource", "change", "rule"),
    [
        ("subscribers", {"lifetime_value": 5.5}, "type"),
        ("events", {"occurred_at": "20240101"}, "datetime_format"),
        ("events", {"occurred_at": "2024-01-01T10"}, "datetime_format"),
        ("events", {"occurred_at": "2024-W01-1"}, "datetime_format"),
        ("orders", {"permalink": "http://.example.com"}, "url_format"),
        ("subscribers", {"tags": {"b", "a"}}, "type"),
        ("subscribers", {"avatar": b"\x89PNG"}, "unsupported_type"),
    ],
)
def test_what_the_server_refuses_the_client_rejects(
    resource: str, change: dict[str, Any], rule: str
) -> None:
    p = RecordPipeline(resource, records=[{**VALID[resource], **change}], on_invalid="skip")
    assert _sent(resource, {**VALID[resource], **change}) == []
    p.check()
    assert p.stats.rejected_by_rule == {rule: 1}


def test_nan_never_reaches_the_wire() -> None:
    assert _sent("product", {**VALID["product"], "price": math.nan}) == []
