"""A local emulator of Drip's batch REST API, for tests, the demo and users' CI.

Run it with ``python -m airflow_provider_drip.emulator --port 8765`` (or ``drip-emulator``), or
in-process with ``DripEmulator(EmulatorConfig(...)).start()``; in pytest use the ``drip_emulator``
fixture (``airflow_provider_drip.emulator.testing``). docs/emulator.md is its reference: what it
accepts and refuses, and why.

It serves the seven batch endpoints of ``airflow_provider_drip.resources`` with Drip's envelopes
and success codes, accepts what Drip's own clients send (Basic without the colon, gzip bodies),
validates records from Drip's documented field tables (a batch with one bad record is refused
whole with 422), enforces both rate limits (fixed windows anchored at the first request of each
window), processes v3 request ids on a clock behind the assumed request-status endpoint, injects
faults deterministically, and records what it received for inspection through ``/_emulator/...``.

Throughput, measured with ``python -m bench.emulator_load --requests 1000``
(1000 pre-serialised batches of 1000 small unique subscribers over one keep-alive connection, rate
limit off, emulator in a subprocess, shared 2-core machine at load average ~5.9): 39.8 requests/s
= 39,800 records/s, 162 MB resident after the 1M records (52-62 requests/s in quieter runs).
"""

from airflow_provider_drip.emulator.config import EmulatorConfig
from airflow_provider_drip.emulator.control import EmulatorControl
from airflow_provider_drip.emulator.server import DripEmulator

__all__ = ["DripEmulator", "EmulatorConfig", "EmulatorControl"]
