"""Apache Airflow provider for Drip's batch APIs."""

from __future__ import annotations

from typing import Any

from airflow_provider_drip.version import __version__

__all__ = ["CONN_FIELDS", "__version__", "get_provider_info"]


CONN_FIELDS: dict[str, Any] = {
    "auth_type": {
        "label": "Auth type",
        "description": "basic: the token as HTTP Basic user name; bearer: an OAuth access token.",
        "schema": {"type": "string", "enum": ["basic", "bearer"], "default": "basic"},
    },
    "timeout": {
        "label": "Timeout (seconds)",
        "description": "Read timeout, or [connect, read]. Default [10, 60].",
        "schema": {"type": ["number", "array", "null"], "items": {"type": "number"}},
    },
    "user_agent": {
        "label": "User-Agent suffix",
        "description": "Appended to airflow-provider-drip/<version>: who to contact about "
        "this traffic.",
        "schema": {"type": ["string", "null"]},
    },
    "request_status_path": {
        "label": "Request status path",
        "description": "Status endpoint for v3 request ids, with {account_id} and {request_id}. "
        "Default /v3/{account_id}/shopper_activity/requests/{request_id}.",
        "schema": {"type": ["string", "null"]},
    },
    "rate_limit_wait_seconds": {
        "label": "Rate-limit wait (seconds)",
        "description": "Wait after a 429 that names no Retry-After or X-RateLimit-Reset.",
        "schema": {"type": "number", "exclusiveMinimum": 0, "default": 3600},
    },
    "gzip_requests": {
        "label": "Gzip request bodies",
        "description": "Send POST bodies gzipped (Content-Encoding: gzip), as Drip's own Python "
        "client does.",
        "schema": {"type": "boolean", "default": False},
    },
}
"""The connection form's extra fields (Airflow 3.2+ reads ``conn-fields`` and stores each value
under its own key of the connection's extra). Written out here rather than imported from
``hooks.settings``, so reading provider info never imports Airflow; a unit test holds the
defaults and choices to the hook's."""


def get_provider_info() -> dict[str, Any]:
    """Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point."""
    return {
        "package-name": "airflow-provider-drip",
        "name": "Drip",
        "description": "Load subscribers, unsubscribes, events, orders, carts and products into "
        "`Drip <https://www.getdrip.com/>`__ through its batch APIs.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Drip",
                "external-doc-url": "https://developer.drip.com/",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": "Drip",
                "python-modules": ["airflow_provider_drip.hooks.drip"],
            }
        ],
        "operators": [
            {
                "integration-name": "Drip",
                "python-modules": ["airflow_provider_drip.operators.drip"],
            }
        ],
        "sensors": [
            {
                "integration-name": "Drip",
                "python-modules": ["airflow_provider_drip.sensors.drip"],
            }
        ],
        "triggers": [
            {
                "integration-name": "Drip",
                "python-modules": ["airflow_provider_drip.triggers.drip"],
            }
        ],
        "connection-types": [
            {
                "connection-type": "drip",
                "hook-class-name": "airflow_provider_drip.hooks.drip.DripHook",
                "hook-name": "Drip",
                "conn-fields": CONN_FIELDS,
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
                    "relabeling": {
                        "login": "Account ID",
                        "password": "API Token",
                        "host": "API base URL (optional)",
                    },
                    "placeholders": {
                        "login": "9999999",
                        "password": "your Drip API token",
                        "host": "https://api.getdrip.com",
                        "extra": '{"auth_type": "basic", "user_agent": "my-team (data@acme.com)", '
                        '"timeout": [10, 60], "rate_limit_wait_seconds": 3600}',
                    },
                },
            }
        ],
        "extra-links": ["airflow_provider_drip.operators.drip.DripAccountLink"],
    }
