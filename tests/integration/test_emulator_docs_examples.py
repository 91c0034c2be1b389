"""Replay every request example of Drip's batch_api.md against the emulator.

The JSON bodies below are copied verbatim from the docs' shell (curl) examples and posted to the
true endpoint paths (``resources.py``; the events example's URL is a docs slip). All must be
accepted, except the docs' cart example: its second cart lacks ``cart_url``, which the cart field
table marks Required, so that whole batch is refused with 422 naming ``cart_url`` on ``carts[1]``.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
import requests

from airflow_provider_drip.resources import RESOURCES

pytestmark = pytest.mark.integration

DOCS = Path(__file__).resolve().parents[3] / "shared" / "drip-api" / "batch_api.md"

DOC_EXAMPLES: dict[str, str] = {
    # batch_api.md, "Create or update a batch of subscribers" (shell example)
    "subscribers": """\
{
  "batches": [{
    "subscribers": [
      {
        "email": "john@acme.com",
        "time_zone": "America/Los_Angeles",
        "tags": ["Customer", "SEO"],
        "custom_fields": {
          "shirt_size": "Medium"
        }
      },
      {
        "email": "joe@acme.com",
        "time_zone": "America/Los_Angeles",
        "tags": ["Prospect"],
        "custom_fields": {
          "shirt_size": "Medium"
        }
      }
    ]
  }]
}
""",
    # batch_api.md, "Unsubscribe a batch of subscribers" (shell example)
    "unsubscribes": """\
{
  "batches": [{
    "subscribers": [
      {
        "email": "john@acme.com"
      },
      {
        "email": "jane@acme.com"
      }
    ]
  }]
}
""",
    # batch_api.md, "Record a batch of events" (shell example)
    "events": """\
{
  "batches": [{
    "events": [
      {
        "email": "john@acme.com",
        "action": "Opened a door"
      },
      {
        "email": "joe@acme.com",
        "action": "Closed a door"
      }
    ]
  }]
}
""",
    # batch_api.md, "Create or update a batch of carts" (shell example)
    "cart": """\
{
  "carts": [
    {
      "provider": "my_custom_platform",
      "email": "user@gmail.com",
      "action": "created",
      "cart_id": "456445746",
      "occurred_at": "2019-01-17T20:50:00Z",
      "cart_public_id": "#5",
      "grand_total": 16.99,
      "total_discounts": 5.34,
      "currency": "USD",
      "cart_url": "https://mysuperstore.com/cart/456445746",
      "items": [
        {
          "product_id": "B01J4SWO1G",
          "product_variant_id": "B01J4SWO1G-CW-BOTT",
          "sku": "XHB-1234",
          "name": "The Coolest Water Bottle",
          "brand": "Drip",
          "categories": [
            "Accessories"
          ],
          "price": 11.16,
          "quantity": 2,
          "discounts": 5.34,
          "total": 16.99,
          "product_url": "https://mysuperstore.com/dp/B01J4SWO1G",
          "image_url": "https://www.getdrip.com/images/example_products/water_bottle.png",
          "product_tag": "Best Seller"
        }
      ]
    },
    {
      "provider": "my_custom_platform",
      "email": "john@acme.com",
      "action": "created",
      "occurred_at": "2019-03-12T15:31:58Z",
      "cart_id": "63754763",
      "cart_public_id": "#4",
      "grand_total": 54.00,
      "total_discounts": 1.00,
      "currency": "USD",
      "order_url": "http://myorders.com/orders/4",
      "items": [{
        "product_id": "B01F9AQ99M",
        "product_variant_id": "B01F9AQ99M-YEL-BT",
        "sku": "JDT-4321",
        "name": "Yellow Boots of Might",
        "brand": "Drip",
        "categories": [
          "Of Might",
          "Outdoors"
        ],
        "price": 55.00,
        "quantity": 1,
        "discounts": 1.00,
        "total": 54.00,
        "color": "black",
        "product_url": "https://mysuperstore.com/dp/B01F9AQ99M",
        "image_url": "https://www.getdrip.com/images/example_products/boots.png"
      }]
    }
  ]
}
""",
    # batch_api.md, "Create or update a batch of orders (Legacy)" (shell example)
    "orders": """\
{
  "batches": [{
    "orders": [
      {
        "email": "john@acme.com",
        "provider": "shopify",
        "upstream_id": "abcdef",
        "identifier": "Order_123456",
        "amount": 4900,
        "tax": 100,
        "fees": 0,
        "discount": 0,
        "permalink": "http://myorders.com/orders/123456",
        "currency_code": "USD",
        "properties": {
          "shirt_size": "Medium",
          "color": "red"
        },
        "occurred_at": "2013-06-21T10:31:58Z",
        "closed_at": "2013-06-21T10:35:58Z",
        "cancelled_at": null,
        "financial_state": "paid",
        "fulfillment_state": "fulfilled",
        "billing_address": {
          "name": "Bill Billington",
          "first_name": "Bill",
          "last_name": "Billington",
          "company": "Bills R US",
          "address_1": "123 Bill St.",
          "address_2": "Apt. B",
          "city": "Billtown",
          "state": "CA",
          "zip": "01234",
          "country": "United States",
          "phone": "555-555-5555",
          "email": "bill@bills.com"
        },
        "shipping_address": {
          "name": "Ship Shippington",
          "first_name": "Ship",
          "last_name": "Shipington",
          "company": "Shipping 4 Less",
          "address_1": "123 Ship St.",
          "address_2": "null",
          "city": "Shipville",
          "state": "CA",
          "zip": "01234",
          "country": "United States",
          "phone": "555-555-5555",
          "email": "ship@shipping.com"
        },
        "items": [{
          "id": "8888888",
          "product_id": "765432",
          "sku": "4444",
          "amount": 4900,
          "name": "Canoe",
          "quantity": 1,
          "upstream_id": "hijkl",
          "upstream_product_id": "opqrs",
          "upstream_product_variant_id": "zyxwv",
          "price": 4900,
          "tax": 100,
          "fees": 0,
          "discount": 100,
          "taxable": true,
          "properties": {
            "color": "black"
          }
        }]
      },
      {
        "email": "joe@acme.com",
        "provider": "shopify",
        "upstream_id": "fedcba",
        "identifier": "Order_654321",
        "amount": 4900,
        "tax": 100,
        "fees": 0,
        "discount": 0,
        "permalink": "http://myorders.com/orders/654321",
        "currency_code": "USD",
        "properties": {
          "size": "small",
          "color": "blue"
        },
        "occurred_at": "2013-05-18T10:31:58Z",
        "closed_at": "2013-05-18T10:35:58Z",
        "cancelled_at": null,
        "financial_state": "paid",
        "fulfillment_state": "fulfilled",
        "billing_address": {
          "name": "Bill Billington",
          "first_name": "Bill",
          "last_name": "Billington",
          "company": "Bills R US",
          "address_1": "123 Bill St.",
          "address_2": "Apt. B",
          "city": "Billtown",
          "state": "CA",
          "zip": "01234",
          "country": "United States",
          "phone": "555-555-5555",
          "email": "bill@bills.com"
        },
        "shipping_address": {
          "name": "Ship Shippington",
          "first_name": "Ship",
          "last_name": "Shipington",
          "company": "Shipping 4 Less",
          "address_1": "123 Ship St.",
          "address_2": "null",
          "city": "Shipville",
          "state": "CA",
          "zip": "01234",
          "country": "United States",
          "phone": "555-555-5555",
          "email": "ship@shipping.com"
        },
        "items": [{
          "id": "8888888",
          "product_id": "765432",
          "sku": "4444",
          "amount": 4900,
          "name": "Canoe",
          "quantity": 1,
          "upstream_id": "hijkl",
          "upstream_product_id": "opqrs",
          "upstream_product_variant_id": "zyxwv",
          "price": 4900,
          "tax": 100,
          "fees": 0,
          "discount": 100,
          "taxable": true,
          "properties": {
            "color": "black"
          }
        }]
      }
    ]
  }]
}
""",
    # batch_api.md, "Create or update a batch of orders" (shell example)
    "order": """\
{
  "orders": [
    {
      "provider": "my_custom_platform",
      "email": "john@acme.com",
      "action": "placed",
      "occurred_at": "2019-03-12T15:31:58Z",
      "order_id": "63754763",
      "order_public_id": "#4",
      "grand_total": 54.00,
      "total_discounts": 1.00,
      "total_taxes": 1.00,
      "total_fees": 0,
      "total_shipping": 5.00,
      "currency": "USD",
      "order_url": "http://myorders.com/orders/4",
      "items": [{
        "product_id": "B01F9AQ99M",
        "product_variant_id": "B01F9AQ99M-YEL-BT",
        "sku": "JDT-4321",
        "name": "Yellow Boots of Might",
        "brand": "Drip",
        "categories": [
          "Of Might",
          "Outdoors"
        ],
        "price": 49.00,
        "quantity": 1,
        "discounts": 1.00,
        "taxes": 1.00,
        "fees": 0,
        "shipping": 5.00,
        "total": 54.00,
        "color": "black",
        "product_url": "https://mysuperstore.com/dp/B01F9AQ99M",
        "image_url": "https://www.getdrip.com/images/example_products/boots.png"
      }],
      "billing_address": {
        "label": "Primary Billing",
        "first_name": "Bill",
        "last_name": "Billington",
        "company": "Bills R US",
        "address_1": "123 Bill St.",
        "address_2": "Apt. B",
        "city": "Billtown",
        "state": "CA",
        "postal_code": "01234",
        "country": "United States",
        "phone": "555-555-5555"
      },
      "shipping_address": {
        "label": "Downtown Office",
        "first_name": "Ship",
        "last_name": "Shipington",
        "company": "Shipping 4 Less",
        "address_1": "123 Ship St.",
        "address_2": "null",
        "city": "Shipville",
        "state": "CA",
        "postal_code": "01234",
        "country": "United States",
        "phone": "555-555-5555"
      }
    },
    {
      "provider": "my_custom_platform",
      "email": "user@gmail.com",
      "action": "updated",
      "occurred_at": "2019-03-12T15:27:16Z",
      "order_id": "456445746",
      "order_public_id": "#5",
      "grand_total": 21.48,
      "total_discounts": 5.34,
      "total_taxes": 1.00,
      "total_fees": 2.00,
      "total_shipping": 5.00,
      "currency": "USD",
      "order_url": "https://mysuperstore.com/order/5",
      "items": [
        {
          "product_id": "B01J4SWO1G",
          "product_variant_id": "B01J4SWO1G-CW-BOTT",
          "sku": "XHB-1234",
          "name": "The Coolest Water Bottle",
          "brand": "Drip",
          "categories": [
            "Accessories"
          ],
          "price": 11.16,
          "sale_price": 10.16,
          "quantity": 2,
          "discounts": 5.34,
          "taxes": 1.00,
          "fees": 0.50,
          "shipping": 5.00,
          "total": 21.48,
          "product_url": "https://mysuperstore.com/dp/B01J4SWO1G",
          "image_url": "https://www.getdrip.com/images/example_products/water_bottle.png",
          "product_tag": "Best Seller"
        }
      ],
      "billing_address": {
        "label": "Primary Billing",
        "first_name": "Bill",
        "last_name": "Billington",
        "company": "Bills R US",
        "address_1": "123 Bill St.",
        "address_2": "Apt. B",
        "city": "Billtown",
        "state": "CA",
        "postal_code": "01234",
        "country": "United States",
        "phone": "555-555-5555"
      },
      "shipping_address": {
        "label": "Downtown Office",
        "first_name": "Ship",
        "last_name": "Shipington",
        "company": "Shipping 4 Less",
        "address_1": "123 Ship St.",
        "city": "Shipville",
        "state": "CA",
        "postal_code": "01234",
        "country": "United States",
        "phone": "555-555-5555"
      }
    }
  ]
}
""",
    # batch_api.md, "Create or update a batch of products" (shell example)
    "product": """\
{
  "products": [
    {
      "provider": "my_custom_platform",
      "action": "created",
      "occurred_at": "2019-01-28T12:15:23Z",
      "product_id": "B01J4SWO1G",
      "product_variant_id": "B01J4SWO1G-CW-BOTT",
      "sku": "XHB-1234",
      "name": "The Coolest Water Bottle",
      "brand": "Drip",
      "categories": [
        "Accessories"
      ],
      "price": 11.16,
      "inventory": 42,
      "product_url": "https://mysuperstore.com/dp/B01J4SWO1G",
      "image_url": "https://www.getdrip.com/images/example_products/water_bottle.png"
    },
    {
      "provider": "my_custom_platform",
      "action": "created",
      "occurred_at": "2019-01-28T12:15:23Z",
      "product_id": "B01J4SWO1G2",
      "product_variant_id": "B01J4SWO1G-CW-BOTT2",
      "sku": "XHB-1235",
      "name": "The Coolest Water Bottle",
      "brand": "Drip",
      "categories": [
        "Accessories"
      ],
      "price": 11.16,
      "inventory": 42,
      "product_url": "https://mysuperstore.com/dp/B01J4SWO1G2",
      "image_url": "https://www.getdrip.com/images/example_products/water_bottle.png"
    },
    {
      "provider": "my_custom_platform",
      "action": "created",
      "occurred_at": "2019-01-28T12:15:23Z",
      "product_id": "B01J4SWO1G3",
      "product_variant_id": "B01J4SWO1G-CW-BOTT3",
      "sku": "XHB-1236",
      "name": "The Coolest Water Bottle",
      "brand": "Drip",
      "categories": [
        "Accessories"
      ],
      "price": 11.16,
      "inventory": 42,
      "product_url": "https://mysuperstore.com/dp/B01J4SWO1G3",
      "image_url": "https://www.getdrip.com/images/example_products/water_bottle.png"
    }
  ]
}
""",
}

SECTIONS = {
    "Create or update a batch of subscribers": "subscribers",
    "Unsubscribe a batch of subscribers": "unsubscribes",
    "Record a batch of events": "events",
    "Create or update a batch of carts": "cart",
    "Create or update a batch of orders (Legacy)": "orders",
    "Create or update a batch of orders": "order",
    "Create or update a batch of products": "product",
}


def _count(resource: str, body: dict) -> int:
    key = RESOURCES[resource].records_key
    if RESOURCES[resource].wrapped_in_batches:
        return sum(len(b[key]) for b in body["batches"])
    return len(body[key])


@pytest.mark.parametrize("resource", sorted(DOC_EXAMPLES))
def test_docs_example_replay(drip_emulator, resource):
    body = json.loads(DOC_EXAMPLES[resource])
    spec = RESOURCES[resource]
    response = requests.post(
        drip_emulator.batch_url(resource), json=body, headers=drip_emulator.headers(), timeout=10
    )
    stats = drip_emulator.control.stats()["resources"][resource]
    if resource == "cart":
        assert response.status_code == 422, response.text
        errors = response.json()["errors"]
        assert errors == [
            {
                "code": "presence_error",
                "attribute": "cart_url",
                "message": "carts[1].cart_url is required",
            }
        ]
        assert stats["records_accepted"] == 0 and stats["requests_rejected"] == 1
        return
    assert response.status_code == spec.success_status, response.text
    if spec.success_status == 204:
        assert response.content == b""
    elif spec.returns_request_ids:
        ids = response.json()["request_ids"]
        assert len(ids) == len(set(ids)) == _count(resource, body)
    else:
        assert response.json() == {}
    assert stats["records_accepted"] == _count(resource, body)
    assert drip_emulator.control.records(resource)[0] == (
        body["batches"][0][spec.records_key][0]
        if spec.wrapped_in_batches
        else body[spec.records_key][0]
    )


def test_docs_cart_example_accepted_once_cart_url_is_added(drip_emulator):
    body = json.loads(DOC_EXAMPLES["cart"])
    body["carts"][1]["cart_url"] = "https://mysuperstore.com/cart/63754763"
    response = requests.post(
        drip_emulator.batch_url("cart"), json=body, headers=drip_emulator.headers(), timeout=10
    )
    assert response.status_code == 202, response.text
    assert len(response.json()["request_ids"]) == 2


@pytest.mark.skipif(not DOCS.exists(), reason="Drip docs not available in this checkout")
def test_examples_are_verbatim_copies_of_the_docs():
    text = DOCS.read_text()
    found = {}
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        title = section.splitlines()[0]
        shell = re.search(r"```shell\n(.*?)```", section, re.S)
        body = re.search(r"<< EOF\n(.*?)\nEOF", shell.group(1), re.S)  # type: ignore[union-attr]
        found[SECTIONS[title]] = json.loads(textwrap.dedent(body.group(1)))  # type: ignore[union-attr]
    assert found == {name: json.loads(raw) for name, raw in DOC_EXAMPLES.items()}


def test_docs_events_example_at_its_curl_url_is_refused(drip_emulator):
    """The docs' events curl line names the subscribers URL (a slip): the emulator serves events
    at the "HTTP Endpoint" path only, so the events body sent there is refused, not misfiled."""
    subscribers_url = drip_emulator.batch_url("subscribers")
    response = requests.post(
        subscribers_url,
        json=json.loads(DOC_EXAMPLES["events"]),
        headers=drip_emulator.headers(),
        timeout=10,
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["message"] == "batches[0].subscribers is required"
    stats = drip_emulator.control.stats()["resources"]
    assert stats["subscribers"]["records_accepted"] == stats["events"]["records_accepted"] == 0
