"""Apache Airflow provider for Drip's batch APIs."""

from __future__ import annotations

from typing import Any

from airflow_provider_drip.version import __version__

__all__ = ["__version__", "get_provider_info"]


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
