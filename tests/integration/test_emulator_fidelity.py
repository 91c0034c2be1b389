"""Replay, byte for byte, the batch requests Drip's own clients send (drip-nodejs 3.1.4 and
drip-python 0.3.1, recorded in fixtures/drip_client_requests.json) and expect Drip's documented
answers: a user whose code already uses one of those clients can point it at the emulator.

Each request goes over a plain socket exactly as recorded (header order and case, the client's
Content-Length, the gzip bytes); only ``Host`` names the emulator instead of api.getdrip.com.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from airflow_provider_drip.resources import RESOURCES

pytestmark = pytest.mark.integration

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "drip_client_requests.json").read_text())
REQUESTS: list[dict[str, Any]] = FIXTURE["requests"]


def _id(recorded: dict[str, Any]) -> str:
    auth = dict((k.lower(), v) for k, v in recorded["headers"])["authorization"].split()[0]
    return f"{recorded['client'].split()[0]}-{recorded['resource']}-{auth.lower()}"


def header(recorded: dict[str, Any], name: str) -> str | None:
    return next((v for k, v in recorded["headers"] if k.lower() == name.lower()), None)


def body_bytes(recorded: dict[str, Any]) -> bytes:
    return base64.b64decode(recorded["body_base64"])


def json_body(recorded: dict[str, Any]) -> Any:
    raw = body_bytes(recorded)
    return json.loads(gzip.decompress(raw) if header(recorded, "Content-Encoding") else raw)


def wire_request(recorded: dict[str, Any], host: str) -> bytes:
    """The request as the client put it on the wire, with ``Host`` pointing at ``host``."""
    lines = [f"{recorded['method']} {recorded['path']} HTTP/1.1"]
    for name, value in recorded["headers"]:
        lines.append(f"{name}: {host if name.lower() == 'host' else value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body_bytes(recorded)


def replay(url: str, recorded: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(wire_request(recorded, parts.netloc))
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
        return response.status, dict(response.getheaders()), body


@pytest.fixture
def drip_as_recorded(drip_emulator):
    """The emulator with the recording's account and token."""
    assert drip_emulator.account_id == FIXTURE["account_id"]
    drip_emulator.control.configure(token=FIXTURE["token"])
    return drip_emulator


def test_the_fixture_covers_every_batch_method_of_both_clients():
    covered = {(r["client"], r["resource"]) for r in REQUESTS}
    assert covered == {
        ("drip-nodejs 3.1.4", "subscribers"),
        ("drip-nodejs 3.1.4", "unsubscribes"),
        ("drip-nodejs 3.1.4", "events"),
        ("drip-nodejs 3.1.4", "orders"),
        ("drip-python 0.3.1", "subscribers"),
        ("drip-python 0.3.1", "unsubscribes"),
        ("drip-python 0.3.1", "events"),
        ("drip-python 0.3.1", "order"),
    }


@pytest.mark.parametrize("recorded", REQUESTS, ids=[_id(r) for r in REQUESTS])
def test_recording_is_self_consistent(recorded):
    """Guards hand edits: the path, envelope and Content-Length match what the client sent."""
    spec = RESOURCES[recorded["resource"]]
    assert recorded["path"] == spec.path(FIXTURE["account_id"])
    assert int(header(recorded, "Content-Length")) == len(body_bytes(recorded))  # type: ignore[arg-type]
    body = json_body(recorded)
    assert body == spec.envelope(spec_records(body, recorded["resource"]))
    if recorded["client"].startswith("drip-python"):
        assert header(recorded, "Content-Encoding") == "gzip"
        assert body_bytes(recorded)[:2] == b"\x1f\x8b"


def spec_records(body: Any, resource: str) -> list[dict[str, Any]]:
    spec = RESOURCES[resource]
    return (
        body["batches"][0][spec.records_key] if spec.wrapped_in_batches else body[spec.records_key]
    )


@pytest.mark.parametrize("recorded", REQUESTS, ids=[_id(r) for r in REQUESTS])
def test_replay_gets_drips_documented_answer(drip_as_recorded, recorded):
    emu = drip_as_recorded
    status, headers, body = replay(emu.url, recorded)
    expect = recorded["expect"]
    assert status == expect["status"], body
    assert headers["X-RateLimit-Limit"] == "50"
    assert headers["X-RateLimit-Remaining"] == "49"
    if "request_ids" in expect:
        ids = json.loads(body)["request_ids"]
        assert len(ids) == len(set(ids)) == expect["request_ids"]
    elif expect["json"] is None:
        assert body == b""
    else:
        assert json.loads(body) == expect["json"]
    records = spec_records(json_body(recorded), recorded["resource"])
    assert emu.control.records(recorded["resource"]) == records
    stats = emu.control.stats()
    assert stats["user_agents"] == {header(recorded, "User-Agent"): 1}
    encoding = header(recorded, "Content-Encoding") or "identity"
    assert stats["content_encodings"] == {encoding: 1}


def test_all_recordings_in_one_keep_alive_connection(drip_as_recorded):
    """Both clients keep connections alive; the emulator answers each request on the same one."""
    emu = drip_as_recorded
    emu.control.configure(rate_limit=0)
    parts = urlsplit(emu.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        statuses = []
        for recorded in REQUESTS:
            sock.sendall(wire_request(recorded, parts.netloc))
            response = http.client.HTTPResponse(sock)
            response.begin()
            response.read()
            statuses.append(response.status)
    assert statuses == [r["expect"]["status"] for r in REQUESTS]
    stats = emu.control.stats()
    assert stats["auth_schemes"] == {"basic": 8, "bearer": 1}
    assert stats["content_encodings"] == {"identity": 5, "gzip": 4}


@pytest.mark.parametrize("recorded", REQUESTS[:1] + REQUESTS[-1:], ids=["nodejs", "python"])
def test_replay_with_another_token_is_refused(drip_emulator, recorded):
    """Accepting the clients' forms did not loosen the token check (the token here differs)."""
    status, _, body = replay(drip_emulator.url, recorded)
    assert status == 401
    assert json.loads(body)["errors"][0]["code"] == "authentication_error"
