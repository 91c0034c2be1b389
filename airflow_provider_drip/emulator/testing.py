"""Test helpers: the ``drip_emulator`` pytest fixture and ``run_emulator_subprocess``.

Registered as a pytest plugin through the ``pytest11`` entry point, so any project that installs
``airflow-provider-drip`` can write ``def test_x(drip_emulator): ...``. One server per session
(in a thread, on a free loopback port); the function-scoped fixture resets its state and config
before each test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_provider_drip.emulator.config import EmulatorConfig
from airflow_provider_drip.emulator.control import EmulatorControl
from airflow_provider_drip.emulator.runner import EmulatorHandle, run_emulator_subprocess
from airflow_provider_drip.emulator.server import DripEmulator

__all__ = ["EmulatorHandle", "drip_emulator", "drip_emulator_server", "run_emulator_subprocess"]


@pytest.fixture(scope="session")
def drip_emulator_server() -> Iterator[DripEmulator]:
    """One in-process emulator for the whole session, on a free loopback port."""
    with DripEmulator(EmulatorConfig(), host="127.0.0.1", port=0) as server:
        yield server


@pytest.fixture
def drip_emulator(drip_emulator_server: DripEmulator) -> Iterator[EmulatorHandle]:
    """The session emulator with fresh state and default config for this test."""
    server = drip_emulator_server
    server.state.reset()
    control = EmulatorControl(server.url)
    cfg = server.state.config
    try:
        yield EmulatorHandle(server.url, cfg.account_id, cfg.token, control, server=server)
    finally:
        control.close()
