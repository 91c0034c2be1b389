"""Fixtures shared by the integration tests (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import pytest

from airflow_provider_drip.hooks.drip import DripHook
from tests.integration.hook_server import HookTestServer, connection_json


@pytest.fixture
def server():
    """A scriptable local server for behaviours the emulator does not offer (redirects, ...)."""
    srv = HookTestServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def make_hook(server, monkeypatch):
    """Build DripHooks on a ``drip_test`` connection to ``server`` with fast retry backoff."""
    hooks: list[DripHook] = []

    def make(
        url: str | None = None, *, conn_id: str = "drip_test", max_retries: int = 5, **extra
    ) -> DripHook:
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{conn_id.upper()}", connection_json(url or server.url, **extra)
        )
        hook = DripHook(conn_id, max_retries=max_retries, backoff_base=0.01, backoff_max=0.05)
        hooks.append(hook)
        return hook

    yield make
    for hook in hooks:
        hook.close()


@pytest.fixture
def drip(drip_emulator, monkeypatch):
    """The emulator, registered as the ``drip_default`` connection."""
    monkeypatch.setenv("AIRFLOW_CONN_DRIP_DEFAULT", drip_emulator.airflow_conn_json())
    return drip_emulator


@pytest.fixture
def emulator(drip, monkeypatch):
    """The emulator as ``drip_default``, answering status polls at once and without a rate limit
    (for the sensor and trigger tests)."""
    drip.control.configure(status_polls=1, rate_limit=0)
    return drip
