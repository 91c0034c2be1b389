"""The pytest fixture, the control API, the CLI and the subprocess runner."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from airflow_provider_drip.emulator.__main__ import main
from airflow_provider_drip.emulator.testing import run_emulator_subprocess
from airflow_provider_drip.resources import RESOURCES

pytestmark = pytest.mark.integration


def send(emu, records, resource="subscribers"):
    return requests.post(
        emu.batch_url(resource),
        json=RESOURCES[resource].envelope(records),
        headers=emu.headers(),
        timeout=10,
    )


def test_fixture_a_changes_state_and_config(drip_emulator):
    drip_emulator.control.configure(rate_limit=1, record_cap=5)
    assert send(drip_emulator, [{"email": "a@example.com"}]).status_code == 201
    assert send(drip_emulator, [{"email": "a@example.com"}]).status_code == 429


def test_fixture_b_starts_clean(drip_emulator):
    """Runs after test_fixture_a: the fixture reset state and config."""
    config = drip_emulator.control.config()
    assert config["rate_limit"] == 50 and config["record_cap"] == 100_000
    stats = drip_emulator.control.stats()
    assert stats["requests_total"] == 0 and stats["records_accepted"] == 0
    assert drip_emulator.account_id == "9999999" and drip_emulator.token == "emulator-token"
    assert drip_emulator.url.startswith("http://127.0.0.1:")
    assert drip_emulator.token not in repr(drip_emulator)


def test_control_api(drip_emulator):
    emu = drip_emulator
    config = emu.control.config()
    assert config["token"] == "***"  # the token is never returned
    new = emu.control.configure(rate_limit=5, rate_window=2, retry_after=False, seed=3)
    assert (new["rate_limit"], new["rate_window"], new["retry_after"], new["seed"]) == (
        5, 2.0, False, 3
    )  # fmt: skip
    for bad in ({"no_such_option": 1}, {"drop_rate": 2}, {"rate_limit": "many"}):
        response = requests.post(f"{emu.url}/_emulator/config", json=bad)
        assert response.status_code == 400
        assert response.json()["errors"][0]["attribute"] == "config"
    assert emu.control.config()["rate_limit"] == 5  # a refused update changes nothing
    assert requests.get(f"{emu.url}/_emulator/records/nope").status_code == 404
    assert requests.get(f"{emu.url}/_emulator/unknown").status_code == 404
    send(emu, [{"email": "a@example.com"}])
    kept = requests.post(f"{emu.url}/_emulator/reset?keep_config=1").json()
    assert kept["config"]["rate_limit"] == 5
    assert emu.control.stats()["records_accepted"] == 0
    assert emu.control.reset()["config"]["rate_limit"] == 50


def test_stats_user_agents_and_control_calls_not_counted(drip_emulator):
    emu = drip_emulator
    headers = {**emu.headers(), "User-Agent": "airflow-provider-drip/test"}
    requests.get(f"{emu.url}/v2/accounts", headers=headers)
    requests.get(f"{emu.url}/v2/accounts", headers={**headers, "Authorization": ""})
    emu.control.stats()
    stats = emu.control.stats()
    assert stats["user_agents"] == {"airflow-provider-drip/test": 2}
    assert stats["requests_total"] == 2
    assert stats["status_counts"] == {"200": 1, "401": 1}


def test_airflow_connection_values(drip_emulator):
    from airflow.models.connection import Connection

    from airflow_provider_drip.hooks.settings import DripConnectionSettings

    for conn in (
        Connection(conn_id="drip_default", uri=drip_emulator.airflow_conn_uri()),
        Connection.from_json(drip_emulator.airflow_conn_json(), conn_id="drip_default"),
    ):
        assert conn.conn_type == "drip"
        settings = DripConnectionSettings.from_connection(conn)
        assert settings.base_url == drip_emulator.url
        assert settings.account_id == drip_emulator.account_id
        assert settings.token == drip_emulator.token
        response = requests.get(settings.url("/v2/accounts"), headers=settings.headers())
        assert response.status_code == 200


def test_subprocess_runner_with_cli_options():
    with run_emulator_subprocess(
        rate_limit=2, retry_after=False, account_id="42", token="t0k", fault_503_requests=[2]
    ) as emu:
        assert emu.process is not None and emu.process.poll() is None
        assert emu.url.startswith("http://127.0.0.1:")
        statuses = [send(emu, [{"email": "a@example.com"}]).status_code for _ in range(3)]
        assert statuses == [201, 503, 429]
        config = emu.control.config()
        assert config["account_id"] == "42" and config["retry_after"] is False
        assert emu.control.stats()["resources"]["subscribers"]["records_accepted"] == 1
        proc = emu.process
    assert proc.poll() is not None  # stopped on exit


def test_cli_prints_bound_url_first():
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_drip.emulator", "--port", "0", "--rate-limit",
         "0", "--no-status-endpoint"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        url = proc.stdout.readline().strip()  # type: ignore[union-attr]
        assert url.startswith("http://127.0.0.1:")
        config = requests.get(f"{url}/_emulator/config", timeout=5).json()
        assert config["rate_limit"] == 0 and config["status_endpoint"] is False
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()  # type: ignore[union-attr]


def test_cli_rejects_bad_options(capsys):
    assert main(["--port", "0", "--drop-rate", "1.5"]) == 2
    assert "drop_rate" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--no-such-flag"])
