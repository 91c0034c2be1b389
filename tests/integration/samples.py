"""Valid records for each of the seven resources, shaped like Drip's documented examples."""

from __future__ import annotations

from typing import Any

OCCURRED_AT = "2026-11-01T10:00:00Z"


def _item(i: int) -> dict[str, Any]:
    return {
        "product_id": f"P{i % 50}",
        "product_variant_id": f"P{i % 50}-V",
        "sku": f"SKU-{i % 50}",
        "name": "The Coolest Water Bottle",
        "price": 11.16,
        "quantity": 1,
    }


def make_record(resource: str, i: int) -> dict[str, Any]:
    email = f"user{i}@example.com"
    if resource in ("subscribers", "unsubscribes"):
        record: dict[str, Any] = {"email": email}
        if resource == "subscribers":
            record.update(tags=["Customer"], custom_fields={"shirt_size": "M"})
        return record
    if resource == "events":
        return {"email": email, "action": "Opened a door", "properties": {"n": i}}
    if resource == "orders":
        return {
            "email": email,
            "provider": "shopify",
            "upstream_id": f"order-{i}",
            "amount": 4900,
            "occurred_at": OCCURRED_AT,
        }
    if resource == "cart":
        return {
            "provider": "my_custom_platform",
            "email": email,
            "action": "created",
            "cart_id": f"cart-{i}",
            "occurred_at": OCCURRED_AT,
            "cart_url": f"https://shop.example.com/cart/{i}",
            "grand_total": 11.16,
            "items": [_item(i)],
        }
    if resource == "order":
        return {
            "provider": "my_custom_platform",
            "email": email,
            "action": "placed",
            "order_id": f"order-{i}",
            "occurred_at": OCCURRED_AT,
            "grand_total": 11.16,
            "items": [_item(i)],
        }
    if resource == "product":
        return {
            "provider": "my_custom_platform",
            "action": "created",
            "product_id": f"P{i}",
            "product_variant_id": f"P{i}-V",
            "name": "The Coolest Water Bottle",
            "price": 11.16,
            "occurred_at": OCCURRED_AT,
        }
    raise ValueError(resource)


def make_records(resource: str, count: int, start: int = 0) -> list[dict[str, Any]]:
    return [make_record(resource, i) for i in range(start, start + count)]
