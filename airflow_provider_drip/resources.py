"""The seven Drip batch resources, as data.

Everything that differs between Drip's batch endpoints lives in this table: the path, the
envelope, the success status, whether a resend is harmless and whether the response carries
request ids. The hook, the sync loop, the emulator and the operators read it; adding an eighth
endpoint means adding one row here (plus its field rules in ``records/field_tables.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MAX_BATCH_SIZE = 1000
"""Drip accepts between 1 and 1000 records per batch request."""

DEFAULT_RATE_LIMIT_PER_HOUR = 50
"""Drip allows 50 batch requests per hour per account (rate_limiting.md)."""


@dataclass(frozen=True)
class BatchResource:
    """One Drip batch endpoint."""

    name: str
    """Key used by the hook and sync loop, e.g. ``subscribers`` or ``cart``."""
    api_version: str
    """``v2`` or ``v3``."""
    path_template: str
    """Path below the base URL; ``{account_id}`` is substituted."""
    records_key: str
    """Key of the record array inside the envelope."""
    wrapped_in_batches: bool
    """v2 nests the array as ``{"batches": [{key: [...]}]}``; v3 posts ``{key: [...]}``."""
    success_status: int
    """Status Drip answers when it accepts the batch."""
    idempotent: bool
    """True when sending the same batch twice leaves Drip in the same state (upserts keyed by
    identity). Events and shopper *activities* record something that happened, so a resend
    records it twice and may fire workflows twice."""
    returns_request_ids: bool
    """v3 batches answer with one request id per record."""
    identity_fields: tuple[str, ...]
    """Fields that identify the record for de-duplication (first present wins)."""
    group: str
    """``upsert`` (``DripBatchUpsertOperator``, v2) or ``shopper_activity``
    (``DripShopperActivityOperator``, v3)."""
    success_body: str
    """The documented body of an accepted batch: ``empty_object`` (``{}``), ``none`` (204, no
    body) or ``request_ids`` (``{"request_ids": [one per record]}``). Anything else is not
    trusted as acceptance."""
    change_keys: tuple[tuple[str, ...], ...]
    """Change-only syncs: the fields that identify what a record updates in Drip, as
    alternatives (the first whose fields are all present wins). Empty: the record is a fact
    (an event) and the whole record is its key, so it is sent once, ever."""
    description: str

    def path(self, account_id: str) -> str:
        return self.path_template.format(account_id=account_id)

    def envelope(self, records: Sequence[Any]) -> dict[str, Any]:
        """The JSON body Drip expects for ``records``."""
        if self.wrapped_in_batches:
            return {"batches": [{self.records_key: list(records)}]}
        return {self.records_key: list(records)}

    def envelope_prefix_suffix(self) -> tuple[bytes, bytes]:
        """Byte prefix and suffix around a comma-joined, pre-serialised record array.

        Lets the sync loop serialise each record once and build the body by joining bytes,
        which gives exactly the same body as ``json.dumps(envelope(records))`` with compact
        separators.
        """
        key = self.records_key.encode()
        if self.wrapped_in_batches:
            return b'{"batches":[{"' + key + b'":[', b"]}]}"
        return b'{"' + key + b'":[', b"]}"


_RESOURCES: tuple[BatchResource, ...] = (
    BatchResource(
        name="subscribers",
        api_version="v2",
        path_template="/v2/{account_id}/subscribers/batches",
        records_key="subscribers",
        wrapped_in_batches=True,
        success_status=201,
        idempotent=True,
        returns_request_ids=False,
        identity_fields=("email", "id", "visitor_uuid"),
        group="upsert",
        success_body="empty_object",
        change_keys=(("email",), ("id",)),
        description="Create or update a batch of subscribers",
    ),
    BatchResource(
        name="unsubscribes",
        api_version="v2",
        path_template="/v2/{account_id}/unsubscribes/batches",
        records_key="subscribers",
        wrapped_in_batches=True,
        success_status=204,
        idempotent=True,
        returns_request_ids=False,
        identity_fields=("email", "id"),
        group="upsert",
        success_body="none",
        change_keys=(("email",), ("id",)),
        description="Globally unsubscribe a batch of subscribers",
    ),
    BatchResource(
        name="events",
        api_version="v2",
        path_template="/v2/{account_id}/events/batches",
        records_key="events",
        wrapped_in_batches=True,
        success_status=201,
        idempotent=False,
        returns_request_ids=False,
        identity_fields=(),
        group="upsert",
        success_body="empty_object",
        change_keys=(),
        description="Record a batch of events",
    ),
    BatchResource(
        name="orders",
        api_version="v2",
        path_template="/v2/{account_id}/orders/batches",
        records_key="orders",
        wrapped_in_batches=True,
        success_status=202,
        idempotent=True,  # Drip keys legacy orders on provider + upstream_id
        returns_request_ids=False,
        identity_fields=("upstream_id",),
        group="upsert",
        success_body="empty_object",
        change_keys=(("provider", "upstream_id"),),
        description="Create or update a batch of orders (legacy)",
    ),
    BatchResource(
        name="cart",
        api_version="v3",
        path_template="/v3/{account_id}/shopper_activity/cart/batch",
        records_key="carts",
        wrapped_in_batches=False,
        success_status=202,
        idempotent=False,
        returns_request_ids=True,
        identity_fields=("cart_id",),
        group="shopper_activity",
        success_body="request_ids",
        change_keys=(("provider", "cart_id"),),
        description="Create or update a batch of cart activity",
    ),
    BatchResource(
        name="order",
        api_version="v3",
        path_template="/v3/{account_id}/shopper_activity/order/batch",
        records_key="orders",
        wrapped_in_batches=False,
        success_status=202,
        idempotent=False,
        returns_request_ids=True,
        identity_fields=("order_id",),
        group="shopper_activity",
        success_body="request_ids",
        change_keys=(("provider", "order_id", "action"),),
        description="Create or update a batch of order activity",
    ),
    BatchResource(
        name="product",
        api_version="v3",
        path_template="/v3/{account_id}/shopper_activity/product/batch",
        records_key="products",
        wrapped_in_batches=False,
        success_status=202,
        idempotent=False,
        returns_request_ids=True,
        identity_fields=("product_variant_id", "product_id"),
        group="shopper_activity",
        success_body="request_ids",
        change_keys=(
            ("provider", "product_id", "product_variant_id", "action"),
            ("provider", "product_id", "action"),
        ),
        description="Create or update a batch of product activity",
    ),
)

RESOURCES: dict[str, BatchResource] = {r.name: r for r in _RESOURCES}

UPSERT_RESOURCES: tuple[str, ...] = tuple(r.name for r in _RESOURCES if r.group == "upsert")
"""Resources of ``DripBatchUpsertOperator`` (the v2 batch endpoints)."""

SHOPPER_ACTIVITIES: tuple[str, ...] = tuple(
    r.name for r in _RESOURCES if r.group == "shopper_activity"
)
"""Activities of ``DripShopperActivityOperator`` (the v3 shopper activity batch endpoints)."""

ACCOUNTS_PATH = "/v2/accounts"
SUBSCRIBER_PATH = "/v2/{account_id}/subscribers/{id_or_email}"
DEFAULT_REQUEST_STATUS_PATH = "/v3/{account_id}/shopper_activity/requests/{request_id}"
"""Drip has not published this path; the provider assumes it and lets the connection's
``request_status_path`` extra override it."""


def get_resource(name: str) -> BatchResource:
    """Look up a resource by name with an error that lists the valid names."""
    try:
        return RESOURCES[name]
    except KeyError:
        raise ValueError(
            f"Unknown Drip batch resource {name!r}; expected one of {sorted(RESOURCES)}"
        ) from None
