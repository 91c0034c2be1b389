"""Handles on a running emulator, and ``run_emulator_subprocess`` (no pytest needed)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import quote, urlsplit

from airflow_provider_drip.emulator.config import EmulatorConfig
from airflow_provider_drip.emulator.control import EmulatorControl
from airflow_provider_drip.emulator.server import DripEmulator
from airflow_provider_drip.resources import get_resource


@dataclass
class EmulatorHandle:
    """What tests need to talk to an emulator (in-process or in a subprocess)."""

    url: str
    account_id: str
    token: str = field(repr=False)
    control: EmulatorControl
    server: DripEmulator | None = None
    """The in-process server (None for a subprocess)."""
    process: subprocess.Popen[bytes] | None = None
    """The subprocess (None in-process)."""

    def airflow_conn_uri(self) -> str:
        """A value for ``AIRFLOW_CONN_DRIP_DEFAULT`` (host and port; schema ``http``)."""
        parts = urlsplit(self.url)
        return (
            f"drip://{quote(self.account_id, safe='')}:{quote(self.token, safe='')}"
            f"@{parts.hostname}:{parts.port}/{parts.scheme}"
        )

    def airflow_conn_json(self) -> str:
        """The same connection in Airflow's JSON form (``host`` is the full base URL)."""
        return json.dumps(
            {"conn_type": "drip", "login": self.account_id, "password": self.token,
             "host": self.url}
        )  # fmt: skip

    def headers(self, auth: str = "basic") -> dict[str, str]:
        """Request headers a well-behaved client sends (``auth``: basic or bearer)."""
        if auth == "bearer":
            authorization = f"Bearer {self.token}"
        else:
            authorization = "Basic " + base64.b64encode(f"{self.token}:".encode()).decode()
        return {
            "Authorization": authorization,
            "Content-Type": "application/json",
            "User-Agent": "drip-emulator-tests",
        }

    def batch_url(self, resource: str) -> str:
        return self.url + get_resource(resource).path(self.account_id)

    def stats(self) -> dict[str, Any]:
        return self.control.stats()


def _cli_args(options: dict[str, Any]) -> list[str]:
    args: list[str] = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            args.append(flag if value else f"--no-{key.replace('_', '-')}")
        elif isinstance(value, (list, tuple)):
            args += [flag, ",".join(str(v) for v in value)]
        else:
            args += [flag, str(value)]
    return args


@contextmanager
def run_emulator_subprocess(
    host: str = "127.0.0.1",
    port: int = 0,
    startup_timeout: float = 20.0,
    stderr: int | IO[Any] | None = subprocess.DEVNULL,
    **options: Any,
) -> Iterator[EmulatorHandle]:
    """Run ``python -m airflow_provider_drip.emulator`` in a subprocess for the block's duration.

    ``options`` are ``EmulatorConfig`` keys (e.g. ``rate_limit=5, rate_window=2``). For tests that
    need a server outside the test process, e.g. a real Airflow scheduler's workers.
    """
    cfg = EmulatorConfig().updated(options)  # fail fast on unknown options
    cmd = [sys.executable, "-m", "airflow_provider_drip.emulator", "--host", host,
           "--port", str(port), *_cli_args(options)]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=stderr, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    line: list[bytes] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(startup_timeout)
    url = line[0].decode().strip() if line else ""
    if not url.startswith("http"):
        proc.kill()
        proc.wait()
        raise RuntimeError(f"drip emulator subprocess did not start (exit code {proc.poll()})")
    control = EmulatorControl(url)
    try:
        yield EmulatorHandle(url, cfg.account_id, cfg.token, control, process=proc)
    finally:
        control.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
