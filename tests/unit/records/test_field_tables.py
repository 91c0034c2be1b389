"""Table-driven tests of every Drip field rule, one table per resource (rules from the docs)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pendulum
import pytest

from airflow_provider_drip.records.field_tables import RULES, Field, get_rules
from airflow_provider_drip.records.normalise import compile_normaliser
from airflow_provider_drip.records.validate import (
    compile_validator,
    find_non_finite,
)
from airflow_provider_drip.resources import RESOURCES

VALID: dict[str, dict[str, Any]] = {
    "subscribers": {"email": "john@acme.com"},
    "unsubscribes": {"email": "john@acme.com"},
    "events": {"email": "john@acme.com", "action": "Logged in"},
    "orders": {"email": "john@acme.com", "amount": 4900},
    "cart": {
        "provider": "my_custom_platform",
        "email": "user@gmail.com",
        "action": "created",
        "cart_id": "456445746",
        "cart_url": "https://mysuperstore.com/cart/456445746",
    },
    "order": {
        "provider": "my_custom_platform",
        "email": "john@acme.com",
        "action": "placed",
        "order_id": "63754763",
    },
    "product": {
        "provider": "my_custom_platform",
        "action": "created",
        "product_id": "B01J4SWO1G",
        "product_variant_id": "B01J4SWO1G-CW-BOTT",
        "name": "The Coolest Water Bottle",
        "price": 11.16,
    },
}

CART_ITEM = {"product_id": "B1", "product_variant_id": "B1-X", "name": "Boots", "price": 55.0}
DROP = object()

# (resource, change to the valid record, expected (field, rule) violations; [] = still valid)
CASES: list[tuple[str, dict[str, Any], list[tuple[str, str]]]] = [
    # subscribers: email | id | visitor_uuid
    ("subscribers", {"email": DROP, "id": "z1togz2hcjrkpp5treip"}, []),
    ("subscribers", {"email": DROP, "visitor_uuid": "sa8f7sdf"}, []),
    ("subscribers", {"email": DROP}, [("email|id|visitor_uuid", "one_of_required")]),
    ("subscribers", {"email": DROP, "id": ""}, [("email|id|visitor_uuid", "one_of_required")]),
    ("subscribers", {"email": "john.acme.com"}, [("email", "email_format")]),
    ("subscribers", {"email": 5}, [("email", "type")]),
    ("subscribers", {"new_email": "nope"}, [("new_email", "email_format")]),
    ("subscribers", {"sms_number": "+16125551212"}, []),
    ("subscribers", {"sms_number": "6125551212"}, [("sms_number", "sms_format")]),
    ("subscribers", {"sms_consent": "yes"}, [("sms_consent", "type")]),
    ("subscribers", {"sms_consent": True, "prospect": False}, []),
    ("subscribers", {"tags": ["Customer", "SEO"], "remove_tags": ["Lead"]}, []),
    ("subscribers", {"tags": "Dog Person"}, []),  # Drip's nodejs example sends one string
    ("subscribers", {"remove_tags": "Lead"}, []),
    ("subscribers", {"tags": ""}, []),  # "not given": dropped
    ("subscribers", {"tags": {"vip"}}, [("tags", "type")]),  # a set has no order
    ("subscribers", {"tags": b"vip"}, [("tags", "type")]),
    ("subscribers", {"tags": ["ok", 3]}, [("tags[1]", "type")]),
    ("subscribers", {"tags": {"a": 1}}, [("tags", "type")]),
    ("subscribers", {"custom_fields": {"shirt_size": "Medium"}}, []),
    ("subscribers", {"custom_fields": ["Medium"]}, [("custom_fields", "type")]),
    ("subscribers", {"lifetime_value": 10000, "base_lead_score": 30}, []),
    ("subscribers", {"lifetime_value": 100.0}, []),  # sent as 100
    ("subscribers", {"lifetime_value": 1e300}, [("lifetime_value", "type")]),
    ("subscribers", {"lifetime_value": 99.5}, [("lifetime_value", "type")]),
    ("subscribers", {"lifetime_value": "100"}, [("lifetime_value", "type")]),
    ("subscribers", {"lifetime_value": True}, [("lifetime_value", "type")]),
    ("subscribers", {"lifetime_value": float("nan")}, [("lifetime_value", "finite_number")]),
    ("subscribers", {"base_lead_score": Decimal("30")}, []),
    ("subscribers", {"eu_consent": "granted"}, []),
    ("subscribers", {"eu_consent": "maybe"}, [("eu_consent", "enum")]),
    ("subscribers", {"status": "unsubscribed", "initial_status": "active"}, []),
    ("subscribers", {"status": "deleted"}, [("status", "enum")]),
    ("subscribers", {"initial_status": "gone"}, [("initial_status", "enum")]),
    ("subscribers", {"id": 12345}, []),
    ("subscribers", {"id": 1.5}, [("id", "type")]),
    ("subscribers", {"first_name": None}, []),  # null passes through for optional fields
    ("subscribers", {"first_name": 7}, [("first_name", "type")]),
    ("subscribers", {"unknown_field": {"x": 1}}, []),
    ("subscribers", {"unknown_field": b"\x00"}, [("unknown_field", "unsupported_type")]),
    ("subscribers", {"unknown_field": {1, 2}}, [("unknown_field", "unsupported_type")]),
    ("subscribers", {"unknown_field": [{"a": b"x"}]}, [("unknown_field[0].a", "unsupported_type")]),
    (
        "subscribers",
        {"custom_fields": {"photo": b"\x89PNG"}},
        [("custom_fields.photo", "unsupported_type")],
    ),
    # unsubscribes: email | id
    ("unsubscribes", {"email": DROP, "id": "abc"}, []),
    ("unsubscribes", {"email": DROP, "visitor_uuid": "x"}, [("email|id", "one_of_required")]),
    ("unsubscribes", {"email": "@acme.com"}, [("email", "email_format")]),
    # events: action + (email | id)
    ("events", {"action": DROP}, [("action", "required")]),
    ("events", {"action": ""}, [("action", "required")]),
    ("events", {"action": None}, [("action", "required")]),
    ("events", {"email": DROP, "id": "x"}, []),
    ("events", {"email": DROP}, [("email|id", "one_of_required")]),
    ("events", {"occurred_at": "2014-03-22T03:00:00Z"}, []),
    ("events", {"occurred_at": "2014-03-22"}, [("occurred_at", "datetime_format")]),
    ("events", {"occurred_at": "2014-03-22 03:00"}, []),
    ("events", {"occurred_at": "2014-03-22T03:00:00.123456789+01:00"}, []),
    *[
        ("events", {"occurred_at": bad}, [("occurred_at", "datetime_format")])
        for bad in (
            "20240101",
            "2024-01-01T10",
            "2024-W01-1",
            "2024-01-01T25:00",
            "2024-01-01T10:00\n",
        )
    ],
    ("events", {"occurred_at": "22/03/2014"}, [("occurred_at", "datetime_format")]),
    ("events", {"occurred_at": "2014-13-22T03:00:00Z"}, [("occurred_at", "datetime_format")]),
    ("events", {"occurred_at": 1395457200}, [("occurred_at", "type")]),
    ("events", {"occurred_at": dt.datetime(2014, 3, 22, tzinfo=dt.timezone.utc)}, []),
    ("events", {"occurred_at": pendulum.datetime(2014, 3, 22)}, []),
    ("events", {"occurred_at": dt.date(2014, 3, 22)}, [("occurred_at", "datetime_format")]),
    ("events", {"properties": {"affiliate_code": "XYZ", "value": 2_147_483_646}}, []),
    ("events", {"properties": {"value": 2_147_483_647}}, [("properties.value", "range")]),
    ("events", {"properties": {"value": "12"}}, [("properties.value", "type")]),
    ("events", {"properties": "XYZ"}, [("properties", "type")]),
    ("events", {"prospect": "true"}, [("prospect", "type")]),
    # legacy orders: amount required, email | id, items need name + amount
    ("orders", {"amount": DROP}, [("amount", "required")]),
    ("orders", {"amount": 49.99}, [("amount", "type")]),
    ("orders", {"email": DROP, "id": "5555555"}, []),
    ("orders", {"email": DROP}, [("email|id", "one_of_required")]),
    ("orders", {"provider": "shopify", "upstream_id": "abcdef"}, []),
    ("orders", {"permalink": "http://myorders.com/orders/123456"}, []),
    ("orders", {"permalink": "myorders.com/orders/1"}, [("permalink", "url_format")]),
    *[
        ("orders", {"permalink": bad}, [("permalink", "url_format")])
        for bad in ("http://.example.com", "http://example..com/", "http://", "http:// x.com")
    ],
    ("orders", {"permalink": "https://shop.example.com:8443/o?id=1#top"}, []),
    ("orders", {"amount": 4900.0, "tax": Decimal("100")}, []),  # integral: sent as integers
    ("orders", {"financial_state": "paid", "fulfillment_state": "fulfilled"}, []),
    ("orders", {"financial_state": "settled"}, [("financial_state", "enum")]),
    ("orders", {"fulfillment_state": "shipped"}, [("fulfillment_state", "enum")]),
    ("orders", {"cancelled_at": None, "closed_at": "2013-06-21T10:35:58Z"}, []),
    ("orders", {"closed_at": "yesterday"}, [("closed_at", "datetime_format")]),
    ("orders", {"billing_address": {"city": "Billtown", "email": "bill@bills.com"}}, []),
    ("orders", {"billing_address": {"email": "bill"}}, [("billing_address.email", "email_format")]),
    ("orders", {"shipping_address": "123 Ship St."}, [("shipping_address", "type")]),
    ("orders", {"items": [{"name": "Canoe", "amount": 4900, "taxable": True}]}, []),
    ("orders", {"items": [{"amount": 4900}]}, [("items[0].name", "required")]),
    ("orders", {"items": [{"name": "Canoe"}]}, [("items[0].amount", "required")]),
    (
        "orders",
        {"items": [{"name": "Canoe", "amount": 1, "quantity": 1.5}]},
        [("items[0].quantity", "type")],
    ),
    (
        "orders",
        {"items": [{"name": "C", "amount": 1, "taxable": 1}]},
        [("items[0].taxable", "type")],
    ),
    ("orders", {"items": {"name": "C"}}, [("items", "type")]),
    ("orders", {"items": ["Canoe"]}, [("items[0]", "type")]),
    # cart activity
    ("cart", {"email": DROP, "person_id": "p1"}, []),
    ("cart", {"email": DROP}, [("person_id|email", "one_of_required")]),
    ("cart", {"provider": DROP}, [("provider", "required")]),
    ("cart", {"action": DROP}, [("action", "required")]),
    ("cart", {"action": "placed"}, [("action", "enum")]),
    ("cart", {"action": "updated"}, []),
    ("cart", {"cart_id": DROP}, [("cart_id", "required")]),
    ("cart", {"cart_id": 456445746}, []),
    ("cart", {"cart_url": DROP}, [("cart_url", "required")]),
    ("cart", {"cart_url": "/cart/1"}, [("cart_url", "url_format")]),
    ("cart", {"occurred_at": DROP}, []),  # Optional in the cart table
    ("cart", {"grand_total": 16.99, "total_discounts": 5.34, "currency": "USD"}, []),
    ("cart", {"grand_total": "16.99"}, [("grand_total", "type")]),
    ("cart", {"grand_total": float("inf")}, [("grand_total", "finite_number")]),
    ("cart", {"initial_status": "unsubscribed"}, []),
    ("cart", {"items": [CART_ITEM]}, []),
    ("cart", {"items": [{**CART_ITEM, "product_id": None}]}, [("items[0].product_id", "required")]),
    (
        "cart",
        {"items": [{k: v for k, v in CART_ITEM.items() if k != "product_variant_id"}]},
        [("items[0].product_variant_id", "required")],
    ),
    (
        "cart",
        {"items": [{k: v for k, v in CART_ITEM.items() if k != "name"}]},
        [("items[0].name", "required")],
    ),
    (
        "cart",
        {"items": [{k: v for k, v in CART_ITEM.items() if k != "price"}]},
        [("items[0].price", "required")],
    ),
    (
        "cart",
        {"items": [{**CART_ITEM, "categories": ["Of Might", 1]}]},
        [("items[0].categories[1]", "type")],
    ),
    (
        "cart",
        {"items": [{**CART_ITEM, "image_url": "boots.png"}]},
        [("items[0].image_url", "url_format")],
    ),
    (
        "cart",
        {"items": [CART_ITEM, {**CART_ITEM, "quantity": "2"}]},
        [("items[1].quantity", "type")],
    ),
    ("cart", {"items": [{**CART_ITEM, "product_tag": "Best Seller"}], "custom": 1}, []),
    # order activity
    ("order", {"email": DROP, "person_id": "p1"}, []),
    ("order", {"email": DROP}, [("person_id|email", "one_of_required")]),
    ("order", {"provider": DROP}, [("provider", "required")]),
    ("order", {"order_id": DROP}, [("order_id", "required")]),
    ("order", {"action": DROP}, [("action", "required")]),
    *[
        ("order", {"action": a}, [])
        for a in ("updated", "paid", "fulfilled", "refunded", "canceled")
    ],
    ("order", {"action": "cancelled"}, [("action", "enum")]),
    ("order", {"action": "created"}, [("action", "enum")]),
    ("order", {"refund_amount": 105, "total_shipping": 5.0, "total_taxes": 1}, []),
    ("order", {"order_url": "ftp://x"}, [("order_url", "url_format")]),
    ("order", {"items": [{"name": "Boots"}]}, []),  # only name is Required for order items
    ("order", {"items": [{"price": 49.0}]}, [("items[0].name", "required")]),
    ("order", {"items": [{"name": "B", "taxes": "1"}]}, [("items[0].taxes", "type")]),
    ("order", {"billing_address": {"label": "Primary", "postal_code": "01234"}}, []),
    (
        "order",
        {"shipping_address": {"postal_code": 1234}},
        [("shipping_address.postal_code", "type")],
    ),
    # product activity
    ("product", {"provider": DROP}, [("provider", "required")]),
    ("product", {"action": DROP}, [("action", "required")]),
    ("product", {"action": "deleted"}, []),
    ("product", {"action": "placed"}, [("action", "enum")]),
    ("product", {"product_id": DROP}, [("product_id", "required")]),
    ("product", {"product_variant_id": DROP}, [("product_variant_id", "required")]),
    ("product", {"name": DROP}, [("name", "required")]),
    ("product", {"price": DROP}, [("price", "required")]),
    ("product", {"price": "11.16"}, [("price", "type")]),
    ("product", {"inventory": 42, "currency": "USD", "categories": ["Accessories"]}, []),
    ("product", {"inventory": 4.2}, [("inventory", "type")]),
    ("product", {"product_url": "https://mysuperstore.com/dp/B01J4SWO1G"}, []),
    ("product", {"email": DROP}, []),  # products need no person
]


def _apply(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    rec = dict(base)
    for k, v in change.items():
        if v is DROP:
            rec.pop(k, None)
        else:
            rec[k] = v
    return rec


@pytest.mark.parametrize("resource", sorted(RESOURCES))
def test_minimal_valid_record_passes(resource: str) -> None:
    assert compile_validator(get_rules(resource))(VALID[resource]) is None


@pytest.mark.parametrize(
    ("resource", "change", "expected"),
    CASES,
    ids=[f"{r}-{i}" for i, (r, _, _) in enumerate(CASES)],
)
def test_rule(resource: str, change: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    errors = _prepared_violations(resource, _apply(VALID[resource], change))
    assert [(e.field, e.rule) for e in errors] == expected
    for e in errors:
        assert e.message


def _prepared_violations(resource: str, rec: dict[str, Any]) -> list[Any]:
    """What the record preparer does: validate; on failure normalise once and validate again."""
    rules = get_rules(resource)
    validate = compile_validator(rules)
    errors = validate(rec)
    if errors:
        fixed = compile_normaliser(rules.fields)(rec)
        if fixed is not None:
            errors = validate(fixed)
    return errors or []


def test_normaliser_gives_the_canonical_forms() -> None:
    normalise = compile_normaliser(get_rules("subscribers").fields)
    rec = {"email": "a@b.co", "tags": "vip", "remove_tags": "", "lifetime_value": 5.0}
    assert normalise(rec) == {"email": "a@b.co", "tags": ["vip"], "lifetime_value": 5}
    assert rec["tags"] == "vip"  # the caller's record is not changed
    assert normalise({"email": "a@b.co", "tags": ["vip"], "lifetime_value": 5}) is None
    assert normalise({"lifetime_value": 5.5}) is None
    items = compile_normaliser(get_rules("cart").fields)
    fixed = items({"items": [{"categories": "Shoes", "quantity": 2.0}, {"name": "x"}]})
    assert fixed == {"items": [{"categories": ["Shoes"], "quantity": 2}, {"name": "x"}]}


def test_every_resource_has_rules_and_cases() -> None:
    assert set(RULES) == set(RESOURCES)
    assert {r for r, _, _ in CASES} == set(RESOURCES)


def test_several_violations_are_all_reported() -> None:
    rec = {"email": "nope", "action": "", "properties": {"value": 3e9}}
    errors = compile_validator(get_rules("events"))(rec) or []
    assert sorted((e.field, e.rule) for e in errors) == [
        ("action", "required"),
        ("email", "email_format"),
        ("properties.value", "range"),
    ]


def test_unknown_type_in_a_rule_table_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown field type"):
        Field("colour")


def test_get_rules_names_the_valid_resources() -> None:
    with pytest.raises(ValueError, match="subscribers"):
        get_rules("contacts")


def test_find_non_finite_reports_the_path() -> None:
    assert find_non_finite({"a": [1, {"b": float("nan")}]}) == "a[1].b"
    assert find_non_finite({"a": Decimal("Infinity")}) == "a"
    assert find_non_finite({"a": [1.5, "x"]}) is None
