"""Field rules of the seven Drip batch resources, as data.

Each table below transcribes the "Arguments" table of Drip's docs (../shared/drip-api/): the field,
its type, whether the docs mark it Required, its allowed values, and "either X or Y must be
included" groups. The validator engine in ``records/validate.py`` compiles these tables into fast
checks; nothing in here runs code. Unknown fields are not rejected: Drip accepts custom attributes
on shopper activity and ignores what it does not know elsewhere.

Reading notes (where the docs are loose, the choice made here):
- "Optional. Required for updates" (legacy orders' ``provider`` / ``upstream_id``) is optional:
  a new order is valid without them.
- ``occurred_at`` is Optional in all three shopper activity tables ("Defaults to the current time").
- Cart ``items`` is not marked Required or Optional: optional, but each item present must carry the
  item fields the docs mark Required (product_id, product_variant_id, name, price).
- Amounts the docs give "in cents" are integers; shopper activity money fields are decimal numbers.
- Identifiers (id, cart_id, product_id, ...) accept strings or integers: Drip's own examples use
  strings, but integer keys from a database are common and serialise unambiguously.
- ``eu_consent`` accepts ``granted`` / ``denied`` (the write arguments table; ``unknown`` only
  appears in the read representation).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# Field types understood by the validator engine.
STRING = "string"
ID = "id"  # string or integer identifier
NUMBER = "number"  # int, float or Decimal; finite
INTEGER = "integer"  # int (or an integral float/Decimal)
BOOLEAN = "boolean"
DATETIME = "datetime"  # ISO-8601 string, or a date/datetime object (serialised to ISO-8601)
EMAIL = "email"
URL = "url"  # absolute http(s) URL
SMS_NUMBER = "sms_number"  # E.164, US only ("+1" and 10 digits), per subscribers.md
LIST_OF_STRINGS = "list_of_strings"
OBJECT = "object"  # a JSON object; ``fields`` describes known keys, others are free
ITEMS = "items"  # an array of objects, each checked against ``fields``

TYPES = frozenset(
    {STRING, ID, NUMBER, INTEGER, BOOLEAN, DATETIME, EMAIL, URL, SMS_NUMBER, LIST_OF_STRINGS}
    | {OBJECT, ITEMS}
)

# Types whose string form a CSV cell can be coerced from (see records/mapping.py).
COERCIBLE_TYPES = frozenset({NUMBER, INTEGER, BOOLEAN, LIST_OF_STRINGS})


@dataclass(frozen=True)
class Field:
    """One row of a Drip field table."""

    type: str
    required: bool = False
    enum: tuple[str, ...] | None = None
    max_exclusive: float | None = None
    fields: Mapping[str, Field] | None = None
    """Known keys of an ``object``, or of each element of ``items``."""

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"unknown field type {self.type!r}")


@dataclass(frozen=True)
class ResourceRules:
    """The field table of one batch resource."""

    resource: str
    fields: Mapping[str, Field]
    one_of: tuple[tuple[str, ...], ...] = field(default=())
    """Groups of which at least one field must be present ("Either email or id must be ...")."""
    source: str = ""
    """The docs page the table comes from."""


def req(type_: str, **kw: object) -> Field:
    """A field the docs mark Required."""
    return Field(type_, required=True, **kw)  # type: ignore[arg-type]


def opt(type_: str, **kw: object) -> Field:
    """A field the docs mark Optional."""
    return Field(type_, **kw)  # type: ignore[arg-type]


STATUS = ("active", "unsubscribed")

SUBSCRIBERS = ResourceRules(
    resource="subscribers",
    source="subscribers.md, Create or update a subscriber",
    one_of=(("email", "id", "visitor_uuid"),),
    fields={
        "email": opt(EMAIL),
        "id": opt(ID),
        "visitor_uuid": opt(STRING),
        "new_email": opt(EMAIL),
        "first_name": opt(STRING),
        "last_name": opt(STRING),
        "address1": opt(STRING),
        "address2": opt(STRING),
        "city": opt(STRING),
        "state": opt(STRING),
        "zip": opt(STRING),
        "country": opt(STRING),
        "phone": opt(STRING),
        "sms_number": opt(SMS_NUMBER),
        "sms_consent": opt(BOOLEAN),
        "user_id": opt(ID),
        "time_zone": opt(STRING),
        "lifetime_value": opt(INTEGER),  # in cents
        "ip_address": opt(STRING),
        "custom_fields": opt(OBJECT),
        "tags": opt(LIST_OF_STRINGS),
        "remove_tags": opt(LIST_OF_STRINGS),
        "prospect": opt(BOOLEAN),
        "potential_lead": opt(BOOLEAN),  # old name of prospect, still accepted
        "base_lead_score": opt(INTEGER),
        "eu_consent": opt(STRING, enum=("granted", "denied")),
        "eu_consent_message": opt(STRING),
        "status": opt(STRING, enum=STATUS),
        "initial_status": opt(STRING, enum=STATUS),
    },
)

UNSUBSCRIBES = ResourceRules(
    resource="unsubscribes",
    source="batch_api.md, Unsubscribe a batch of subscribers",
    one_of=(("email", "id"),),
    fields={
        "email": opt(EMAIL),
        "id": opt(ID),
    },
)

EVENTS = ResourceRules(
    resource="events",
    source="events.md, Record an event",
    one_of=(("email", "id"),),
    fields={
        "email": opt(EMAIL),
        "id": opt(ID),
        "action": req(STRING),
        "prospect": opt(BOOLEAN),
        "potential_lead": opt(BOOLEAN),
        # "Conversion values must be less than 2,147,483,647."
        "properties": opt(OBJECT, fields={"value": opt(NUMBER, max_exclusive=2_147_483_647)}),
        "occurred_at": opt(DATETIME),
    },
)

_LEGACY_ADDRESS = {
    "name": opt(STRING),
    "first_name": opt(STRING),
    "last_name": opt(STRING),
    "company": opt(STRING),
    "address_1": opt(STRING),
    "address_2": opt(STRING),
    "city": opt(STRING),
    "state": opt(STRING),
    "zip": opt(STRING),
    "country": opt(STRING),
    "phone": opt(STRING),
    "email": opt(EMAIL),
}

ORDERS = ResourceRules(
    resource="orders",
    source="orders.md, Create or update an order (legacy)",
    one_of=(("email", "id"),),
    fields={
        "email": opt(EMAIL),
        "id": opt(ID),
        "amount": req(INTEGER),  # in cents
        "provider": opt(STRING),  # "Optional. Required for updates."
        "tax": opt(INTEGER),
        "fees": opt(INTEGER),
        "discount": opt(INTEGER),
        "permalink": opt(URL),
        "currency_code": opt(STRING),
        "upstream_id": opt(ID),  # "Optional. Required for updates."
        "identifier": opt(STRING),
        "properties": opt(OBJECT),
        "occurred_at": opt(DATETIME),
        "closed_at": opt(DATETIME),
        "cancelled_at": opt(DATETIME),
        "financial_state": opt(
            STRING,
            enum=(
                "pending",
                "authorized",
                "partially_paid",
                "paid",
                "partially_refunded",
                "refunded",
                "voided",
            ),
        ),
        "fulfillment_state": opt(
            STRING, enum=("not_fulfilled", "partially_fulfilled", "fulfilled")
        ),
        "billing_address": opt(OBJECT, fields=_LEGACY_ADDRESS),
        "shipping_address": opt(OBJECT, fields=_LEGACY_ADDRESS),
        "items": opt(
            ITEMS,
            fields={
                "name": req(STRING),
                "amount": req(INTEGER),
                "price": opt(INTEGER),
                "tax": opt(INTEGER),
                "fees": opt(INTEGER),
                "discount": opt(INTEGER),
                "quantity": opt(INTEGER),
                "product_id": opt(ID),
                "upstream_id": opt(ID),
                "upstream_product_id": opt(ID),
                "upstream_product_variant_id": opt(ID),
                "sku": opt(STRING),
                "taxable": opt(BOOLEAN),
                "properties": opt(OBJECT),
            },
        ),
    },
)

# Fields every shopper activity shares: who, what and when.
_SHOPPER_PERSON = {
    "provider": req(STRING),
    "person_id": opt(ID),
    "email": opt(EMAIL),
    "initial_status": opt(STRING, enum=STATUS),
}

CART = ResourceRules(
    resource="cart",
    source="shopper_activity_cart_activity.md, Create or update a cart",
    one_of=(("person_id", "email"),),
    fields={
        **_SHOPPER_PERSON,
        "action": req(STRING, enum=("created", "updated")),
        "cart_id": req(ID),
        "occurred_at": opt(DATETIME),
        "cart_public_id": opt(STRING),
        "grand_total": opt(NUMBER),
        "total_discounts": opt(NUMBER),
        "currency": opt(STRING),
        "cart_url": req(URL),
        "items": opt(
            ITEMS,
            fields={
                "product_id": req(ID),
                "product_variant_id": req(ID),
                "sku": opt(STRING),
                "name": req(STRING),
                "brand": opt(STRING),
                "categories": opt(LIST_OF_STRINGS),
                "price": req(NUMBER),
                "quantity": opt(INTEGER),
                "discounts": opt(NUMBER),
                "total": opt(NUMBER),
                "product_url": opt(URL),
                "image_url": opt(URL),
            },
        ),
    },
)

_ACTIVITY_ADDRESS = {
    "label": opt(STRING),
    "first_name": opt(STRING),
    "last_name": opt(STRING),
    "company": opt(STRING),
    "address_1": opt(STRING),
    "address_2": opt(STRING),
    "city": opt(STRING),
    "state": opt(STRING),
    "postal_code": opt(STRING),
    "country": opt(STRING),
    "phone": opt(STRING),
}

ORDER = ResourceRules(
    resource="order",
    source="shopper_activity_order_activity.md, Create or update an order",
    one_of=(("person_id", "email"),),
    fields={
        **_SHOPPER_PERSON,
        "action": req(
            STRING, enum=("placed", "updated", "paid", "fulfilled", "refunded", "canceled")
        ),
        "occurred_at": opt(DATETIME),
        "order_id": req(ID),
        "order_public_id": opt(STRING),
        "grand_total": opt(NUMBER),
        "total_discounts": opt(NUMBER),
        "total_taxes": opt(NUMBER),
        "total_fees": opt(NUMBER),
        "total_shipping": opt(NUMBER),
        "refund_amount": opt(NUMBER),
        "currency": opt(STRING),
        "order_url": opt(URL),
        "items": opt(
            ITEMS,
            fields={
                "product_id": opt(ID),
                "product_variant_id": opt(ID),
                "sku": opt(STRING),
                "name": req(STRING),
                "brand": opt(STRING),
                "categories": opt(LIST_OF_STRINGS),
                "price": opt(NUMBER),
                "quantity": opt(INTEGER),
                "discounts": opt(NUMBER),
                "taxes": opt(NUMBER),
                "fees": opt(NUMBER),
                "shipping": opt(NUMBER),
                "total": opt(NUMBER),
                "product_url": opt(URL),
                "image_url": opt(URL),
            },
        ),
        "billing_address": opt(OBJECT, fields=_ACTIVITY_ADDRESS),
        "shipping_address": opt(OBJECT, fields=_ACTIVITY_ADDRESS),
    },
)

PRODUCT = ResourceRules(
    resource="product",
    source="shopper_activity_product_activity.md, Create or update a product",
    fields={
        "provider": req(STRING),
        "action": req(STRING, enum=("created", "updated", "deleted")),
        "occurred_at": opt(DATETIME),
        "product_id": req(ID),
        "product_variant_id": req(ID),
        "sku": opt(STRING),
        "name": req(STRING),
        "brand": opt(STRING),
        "categories": opt(LIST_OF_STRINGS),
        "currency": opt(STRING),
        "price": req(NUMBER),
        "inventory": opt(INTEGER),
        "product_url": opt(URL),
        "image_url": opt(URL),
    },
)

RULES: dict[str, ResourceRules] = {
    r.resource: r for r in (SUBSCRIBERS, UNSUBSCRIBES, EVENTS, ORDERS, CART, ORDER, PRODUCT)
}


def get_rules(resource: str) -> ResourceRules:
    """Field rules of a resource named as in ``resources.RESOURCES``."""
    try:
        return RULES[resource]
    except KeyError:
        raise ValueError(
            f"No field rules for Drip resource {resource!r}; expected one of {sorted(RULES)}"
        ) from None
