"""The emulator's server-side validation, written straight from Drip's field tables.

Deliberately independent of the provider's client-side rules: the emulator plays Drip, so it
checks what Drip's docs (../shared/drip-api/*.md) say the server requires, and a client that
validates differently is caught by it. Each resource is a table of ``field: spec`` where spec is a
tiny string: ``type`` plus ``!`` for Required, e.g. ``"id!"``, ``"time"``,
``"enum!:created|updated"``. ``ONE_OF`` lists the "either X or Y must be included" groups.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

MAX_RECORDS = 1000
MAX_ERRORS = 50
"""Errors reported per rejected batch (the batch is rejected whole either way)."""

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_SMS = re.compile(r"\+1\d{10}")
# A host is dot-separated, non-empty labels (``http://.example.com`` is refused), then an
# optional port, then anything without whitespace.
_URL = re.compile(
    r"https?://[^\s/?#:@.\[\]]+(?:\.[^\s/?#:@.\[\]]+)*(?::\d{1,5})?(?:[/?#]\S*)?", re.IGNORECASE
)
# "The String time ... in ISO-8601 format": a date and a time (hours and minutes at least).
_ISO = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?"
)

Check = Callable[[Any], "tuple[str, str] | None"]
"""A value check returning ``(code, problem)`` or None when the value is fine."""


def _is_time(value: Any) -> bool:
    if not isinstance(value, str) or not _ISO.fullmatch(value):
        return False
    text = value.replace("Z", "+00:00")
    text = re.sub(r"\.(\d{6})\d+", r".\1", text)  # fromisoformat takes at most microseconds
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_strings(value: Any) -> bool:
    if isinstance(value, str):
        return True
    return isinstance(value, list) and all(isinstance(x, str) for x in value)


_TYPES: dict[str, tuple[Callable[[Any], bool], str, str]] = {
    # name: (predicate, Drip error code, what it must be)
    "str": (lambda v: isinstance(v, str), "format_error", "must be a string"),
    "id": (
        lambda v: (isinstance(v, str) and v != "") or _is_int(v),
        "format_error",
        "must be a string or integer identifier",
    ),
    "num": (_is_number, "format_error", "must be a number"),
    "int": (_is_int, "format_error", "must be an integer"),
    "bool": (lambda v: isinstance(v, bool), "format_error", "must be a boolean"),
    "obj": (lambda v: isinstance(v, dict), "format_error", "must be an object"),
    "list": (lambda v: isinstance(v, list), "format_error", "must be an array"),
    # Drip's own Node example sends one tag as a string: "tags": "Dog Person"
    "strs": (_is_strings, "format_error", "must be an array of strings"),
    "time": (_is_time, "time_error", "must be a valid time in ISO-8601 format"),
    "email": (
        lambda v: isinstance(v, str) and bool(_EMAIL.fullmatch(v)),
        "email_error",
        "must be a valid email address",
    ),
    "sms": (
        lambda v: isinstance(v, str) and bool(_SMS.fullmatch(v)),
        "sms_error",
        "must be a valid US mobile number in E.164 format",
    ),
    "url": (
        lambda v: isinstance(v, str) and bool(_URL.fullmatch(v)),
        "url_error",
        "must be a valid URL",
    ),
}


@dataclass(frozen=True)
class FieldRule:
    name: str
    required: bool
    check: Callable[[Any], bool]
    code: str
    problem: str
    items: Schema | None = None
    kind: str = ""
    """The spec's type (``"email"``, ``"enum"``...): lets a test compare these tables with the
    client's (tests/unit/test_field_tables_agree.py) without sharing any code."""
    allowed: tuple[str, ...] = ()
    """The values of an ``enum``."""


@dataclass(frozen=True)
class Schema:
    fields: tuple[FieldRule, ...]
    one_of: tuple[tuple[str, ...], ...] = ()

    by_name: dict[str, FieldRule] = field(init=False, repr=False)
    required: tuple[str, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {rule.name: rule for rule in self.fields})
        object.__setattr__(self, "required", tuple(r.name for r in self.fields if r.required))


def _rule(name: str, spec: str | tuple[str, Schema]) -> FieldRule:
    items = None
    if isinstance(spec, tuple):  # ("list!", item_schema): an array of objects
        spec, items = spec
    required = "!" in spec.split(":", 1)[0]
    kind = spec.replace("!", "", 1) if required else spec
    if kind.startswith("enum:"):
        allowed = tuple(kind[5:].split("|"))
        return FieldRule(
            name,
            required,
            lambda v, a=allowed: isinstance(v, str) and v in a,
            "format_error",
            f"must be one of {', '.join(allowed)}",
            kind="enum",
            allowed=allowed,
        )
    check, code, problem = _TYPES[kind]
    if items is not None:
        problem = "must be an array of objects"
        check = lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v)  # noqa: E731
    return FieldRule(name, required, check, code, problem, items, kind=kind)


def schema(fields: Mapping[str, Any], one_of: tuple[tuple[str, ...], ...] = ()) -> Schema:
    return Schema(tuple(_rule(k, v) for k, v in fields.items()), one_of)


_STATUS = "enum:active|unsubscribed"

# subscribers.md "Create or update a subscriber" arguments
SUBSCRIBER = schema(
    {
        "email": "email", "id": "id", "visitor_uuid": "str", "new_email": "email",
        "first_name": "str", "last_name": "str", "address1": "str", "address2": "str",
        "city": "str", "state": "str", "zip": "str", "country": "str", "phone": "str",
        "sms_number": "sms", "sms_consent": "bool", "user_id": "id", "time_zone": "str",
        "lifetime_value": "int", "ip_address": "str", "custom_fields": "obj", "tags": "strs",
        "remove_tags": "strs", "prospect": "bool", "potential_lead": "bool",
        "base_lead_score": "int",
        "eu_consent": "enum:granted|denied", "eu_consent_message": "str",
        "status": _STATUS, "initial_status": _STATUS,
    },
    one_of=(("email", "id", "visitor_uuid"),),
)  # fmt: skip

# batch_api.md "Unsubscribe a batch of subscribers": subscriber identities
UNSUBSCRIBE = schema({"email": "email", "id": "id"}, one_of=(("email", "id"),))

# events.md "Record an event" arguments
EVENT = schema(
    {"email": "email", "id": "id", "action": "str!", "prospect": "bool",
     "potential_lead": "bool", "properties": "obj", "occurred_at": "time"},
    one_of=(("email", "id"),),
)  # fmt: skip

# orders.md "Create or update an order" arguments (legacy), with its items table
LEGACY_ORDER_ITEM = schema(
    {"name": "str!", "amount": "int!", "price": "int", "tax": "int", "fees": "int",
     "discount": "int", "quantity": "int", "product_id": "id", "upstream_id": "id",
     "upstream_product_id": "id", "upstream_product_variant_id": "id", "sku": "str",
     "taxable": "bool", "properties": "obj"}
)  # fmt: skip
LEGACY_ORDER = schema(
    {
        "email": "email", "id": "id", "amount": "int!", "provider": "str", "tax": "int",
        "fees": "int", "discount": "int", "permalink": "url", "currency_code": "str",
        "upstream_id": "id", "identifier": "str", "properties": "obj", "occurred_at": "time",
        "closed_at": "time", "cancelled_at": "time",
        "financial_state": "enum:pending|authorized|partially_paid|paid|partially_refunded"
        "|refunded|voided",
        "fulfillment_state": "enum:not_fulfilled|partially_fulfilled|fulfilled",
        "billing_address": "obj", "shipping_address": "obj",
        "items": ("list", LEGACY_ORDER_ITEM),
    },
    one_of=(("email", "id"),),
)  # fmt: skip

# shopper_activity_cart_activity.md
CART_ITEM = schema(
    {"product_id": "id!", "product_variant_id": "id!", "sku": "str", "name": "str!",
     "brand": "str", "categories": "strs", "price": "num!", "quantity": "int",
     "discounts": "num", "total": "num", "product_url": "url", "image_url": "url"}
)  # fmt: skip
CART = schema(
    {"provider": "str!", "person_id": "id", "email": "email", "initial_status": _STATUS,
     "action": "enum!:created|updated", "cart_id": "id!", "occurred_at": "time",
     "cart_public_id": "str", "grand_total": "num", "total_discounts": "num",
     "currency": "str", "cart_url": "url!", "items": ("list", CART_ITEM)},
    one_of=(("person_id", "email"),),
)  # fmt: skip

# shopper_activity_order_activity.md
ORDER_ITEM = schema(
    {"product_id": "id", "product_variant_id": "id", "sku": "str", "name": "str!",
     "brand": "str", "categories": "strs", "price": "num", "quantity": "int",
     "discounts": "num", "taxes": "num", "fees": "num", "shipping": "num", "total": "num",
     "product_url": "url", "image_url": "url"}
)  # fmt: skip
ORDER = schema(
    {"provider": "str!", "person_id": "id", "email": "email", "initial_status": _STATUS,
     "action": "enum!:placed|updated|paid|fulfilled|refunded|canceled",
     "occurred_at": "time", "order_id": "id!", "order_public_id": "str",
     "grand_total": "num", "total_discounts": "num", "total_taxes": "num", "total_fees": "num",
     "total_shipping": "num", "refund_amount": "num", "currency": "str", "order_url": "url",
     "items": ("list", ORDER_ITEM), "billing_address": "obj", "shipping_address": "obj"},
    one_of=(("person_id", "email"),),
)  # fmt: skip

# shopper_activity_product_activity.md
PRODUCT = schema(
    {"provider": "str!", "action": "enum!:created|updated|deleted", "occurred_at": "time",
     "product_id": "id!", "product_variant_id": "id!", "sku": "str", "name": "str!",
     "brand": "str", "categories": "strs", "currency": "str", "price": "num!",
     "inventory": "int", "product_url": "url", "image_url": "url"}
)  # fmt: skip

SCHEMAS: dict[str, Schema] = {
    "subscribers": SUBSCRIBER,
    "unsubscribes": UNSUBSCRIBE,
    "events": EVENT,
    "orders": LEGACY_ORDER,
    "cart": CART,
    "order": ORDER,
    "product": PRODUCT,
}
"""Keyed by the names of ``airflow_provider_drip.resources.RESOURCES``."""


def error(code: str, attribute: str, message: str) -> dict[str, str]:
    return {"code": code, "attribute": attribute, "message": message}


def validate_record(
    rec: Any, sch: Schema, key: str, index: int, path: str = ""
) -> list[dict[str, str]]:
    """Errors for record ``key[index]`` (messages name that index, e.g. ``carts[1]``).

    Walks the record's own keys (usually a handful) rather than the whole field table and builds
    message strings only for errors, which keeps a 1000-record batch to a few milliseconds.
    Unknown keys pass: Drip accepts custom attributes on shopper activity.
    """
    if not isinstance(rec, dict):
        return [
            error("format_error", path.rstrip(".") or "base", f"{key}[{index}] must be an object")
        ]
    errors: list[dict[str, str]] = []
    rules = sch.by_name
    for name, value in rec.items():
        rule = rules.get(name)
        if rule is None or value is None or value == "":
            continue
        if not rule.check(value):
            errors.append(
                error(rule.code, path + name, f"{key}[{index}].{path}{name} {rule.problem}")
            )
        elif rule.items is not None:
            for j, item in enumerate(value):
                errors.extend(validate_record(item, rule.items, key, index, f"{path}{name}[{j}]."))
    for name in sch.required:
        value = rec.get(name)
        if value is None or value == "":
            errors.append(
                error("presence_error", path + name, f"{key}[{index}].{path}{name} is required")
            )
    for group in sch.one_of:
        for name in group:
            value = rec.get(name)
            if value is not None and value != "":
                break
        else:
            errors.append(
                error(
                    "presence_error",
                    path + group[0],
                    f"{key}[{index}]: either {' or '.join(group)} must be included",
                )
            )
    return errors


def validate_records(resource: str, key: str, records: list[Any]) -> list[dict[str, str]]:
    """All errors of a batch's records (capped at ``MAX_ERRORS``)."""
    sch = SCHEMAS[resource]
    errors: list[dict[str, str]] = []
    for i, rec in enumerate(records):
        errors.extend(validate_record(rec, sch, key, i))
        if len(errors) >= MAX_ERRORS:
            return errors[:MAX_ERRORS]
    return errors


def extract_records(
    body: Any, records_key: str, wrapped_in_batches: bool
) -> tuple[list[Any] | None, list[dict[str, str]]]:
    """Unwrap the envelope into one record list, or return envelope errors (422)."""
    if not isinstance(body, dict):
        return None, [error("format_error", "base", "Request body must be a JSON object")]
    if wrapped_in_batches:
        batches = body.get("batches")
        if not isinstance(batches, list) or not batches:
            return None, [
                error(
                    "presence_error",
                    "batches",
                    f'batches is required: {{"batches": [{{"{records_key}": [...]}}]}}',
                )
            ]
        records: list[Any] = []
        for n, batch in enumerate(batches):
            inner = batch.get(records_key) if isinstance(batch, dict) else None
            problem = _array_problem(inner, f"batches[{n}].{records_key}")
            if problem:
                return None, [problem]
            records.extend(inner)  # type: ignore[arg-type]
    else:
        records = body.get(records_key)  # type: ignore[assignment]
        problem = _array_problem(records, records_key)
        if problem:
            return None, [problem]
    if len(records) > MAX_RECORDS:
        return None, [
            error(
                "length_error",
                records_key,
                f"{records_key} must contain between 1 and {MAX_RECORDS} records "
                f"(got {len(records)})",
            )
        ]
    return records, []


def _array_problem(value: Any, label: str) -> dict[str, str] | None:
    attribute = label.rsplit(".", 1)[-1]
    if value is None:
        return error("presence_error", attribute, f"{label} is required")
    if not isinstance(value, list):
        return error("format_error", attribute, f"{label} must be an array")
    if not 1 <= len(value) <= MAX_RECORDS:
        return error(
            "length_error",
            attribute,
            f"{label} must contain between 1 and {MAX_RECORDS} records (got {len(value)})",
        )
    return None
