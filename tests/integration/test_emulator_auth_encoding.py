"""What the emulator accepts on the wire beyond our own hook's requests: every authentication form
Drip accepts, gzip bodies, and refusals (415, 400, 413) in Drip's error shape."""

from __future__ import annotations

import base64
import gzip
import json
import zlib

import pytest
import requests

from airflow_provider_drip.emulator.auth import check_authorization
from airflow_provider_drip.emulator.body_encoding import BodyEncodingError, gunzip
from airflow_provider_drip.resources import RESOURCES

pytestmark = pytest.mark.integration

EVENTS = {"batches": [{"events": [{"email": "a@example.com", "action": "Logged in"}]}]}
TOKEN = "emulator-token"


def basic(userpass: str) -> str:
    return "Basic " + base64.b64encode(userpass.encode()).decode()


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        (basic(f"{TOKEN}:"), True),  # Drip's docs: token as username, empty password
        (basic(TOKEN), True),  # drip-nodejs 3.1.4: base64(token), no colon
        (f"Bearer {TOKEN}", True),  # OAuth
        (f"bearer {TOKEN}", True),  # auth schemes are case-insensitive (RFC 9110)
        (basic(f"{TOKEN}:x"), False),  # the docs say the password is empty
        (basic(f"{TOKEN}:\n"), False),  # `echo token: | base64` adds a newline: use printf
        (basic(f"{TOKEN}x"), False),
        (basic(f":{TOKEN}"), False),  # token as password, not username
        (f"Basic {TOKEN}", False),  # not base64 of anything valid
        (f"Bearer {TOKEN}x", False),
        (f"Token {TOKEN}", False),
        (None, False),
    ],
)
def test_check_authorization(header, accepted):
    assert check_authorization(header, TOKEN)[1] is accepted


def post(emu, body: bytes, **headers: str) -> requests.Response:
    merged = {**emu.headers(), **headers}
    return requests.post(emu.batch_url("events"), data=body, headers=merged, timeout=10)


def drip_error(response: requests.Response) -> dict[str, str]:
    (problem,) = response.json()["errors"]
    assert set(problem) == {"code", "attribute", "message"}
    return problem


def test_each_auth_form_over_http(drip_emulator):
    emu = drip_emulator
    body = json.dumps(EVENTS).encode()
    for header in (basic(f"{emu.token}:"), basic(emu.token), f"Bearer {emu.token}"):
        assert post(emu, body, Authorization=header).status_code == 201
    refused = post(emu, body, Authorization=basic(f"{emu.token}:secret"))
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["code"] == "authentication_error"
    assert emu.control.stats()["auth_schemes"] == {"basic": 3, "bearer": 1}


@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", "GZIP", "gzip, identity"])
def test_gzip_body_is_accepted_and_stored(drip_emulator, encoding):
    emu = drip_emulator
    response = post(emu, gzip.compress(json.dumps(EVENTS).encode()), **{
        "Content-Encoding": encoding})  # fmt: skip
    assert response.status_code == 201, response.text
    assert response.json() == {}
    assert emu.control.records("events") == EVENTS["batches"][0]["events"]


def test_identity_and_gzip_are_counted(drip_emulator):
    emu = drip_emulator
    plain = json.dumps(EVENTS).encode()
    assert post(emu, plain).status_code == 201
    assert post(emu, plain, **{"Content-Encoding": "identity"}).status_code == 201
    assert post(emu, gzip.compress(plain), **{"Content-Encoding": "gzip"}).status_code == 201
    assert emu.control.stats()["content_encodings"] == {"identity": 2, "gzip": 1}


def test_gzip_of_a_bad_record_is_judged_like_plain_json(drip_emulator):
    bad = {"batches": [{"events": [{"email": "a@example.com"}]}]}  # no action
    response = post(drip_emulator, gzip.compress(json.dumps(bad).encode()),
                    **{"Content-Encoding": "gzip"})  # fmt: skip
    assert response.status_code == 422
    assert drip_error(response)["attribute"] == "action"


@pytest.mark.parametrize(
    "encoding", ["br", "deflate", "compress", "zstd", "gzip, gzip", "gzip, br"]
)
def test_unsupported_content_encoding_is_415(drip_emulator, encoding):
    response = post(drip_emulator, gzip.compress(json.dumps(EVENTS).encode()),
                    **{"Content-Encoding": encoding})  # fmt: skip
    assert response.status_code == 415
    problem = drip_error(response)
    assert problem["code"] == "format_error" and "not supported" in problem["message"]
    assert drip_emulator.control.stats()["resources"]["events"]["records_accepted"] == 0


@pytest.mark.parametrize(
    "body",
    [
        b"",
        json.dumps(EVENTS).encode(),  # says gzip, is plain JSON
        gzip.compress(json.dumps(EVENTS).encode())[:-6],  # truncated
        gzip.compress(json.dumps(EVENTS).encode())[:20] + b"\x00" * 30,  # corrupt deflate data
        gzip.compress(json.dumps(EVENTS).encode()) + b"trailing junk",
    ],
    ids=["empty", "not-gzip", "truncated", "corrupt", "trailing-junk"],
)
def test_corrupt_gzip_is_400(drip_emulator, body):
    response = post(drip_emulator, body, **{"Content-Encoding": "gzip"})
    assert response.status_code == 400
    problem = drip_error(response)
    assert problem["code"] == "format_error" and "not valid gzip" in problem["message"]


def test_gzip_that_inflates_to_invalid_json_is_400(drip_emulator):
    response = post(drip_emulator, gzip.compress(b'{"batches": ['), **{"Content-Encoding": "gzip"})
    assert response.status_code == 400
    assert "not valid JSON" in drip_error(response)["message"]


def test_gzip_bomb_is_413_without_inflating_it(drip_emulator):
    emu = drip_emulator
    emu.control.configure(max_body_bytes=1_000_000)
    bomb = gzip.compress(b" " * 50_000_000)  # 50 MB of spaces in ~49 kB
    assert len(bomb) < 100_000
    response = post(emu, bomb, **{"Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert drip_error(response)["code"] == "length_error"
    small = gzip.compress(json.dumps(EVENTS).encode())
    assert post(emu, small, **{"Content-Encoding": "gzip"}).status_code == 201


def test_gunzip_limits_and_members():
    payload = b"x" * 1000
    assert gunzip(gzip.compress(payload), limit=1000) == payload
    with pytest.raises(BodyEncodingError) as info:
        gunzip(gzip.compress(payload), limit=999)
    assert info.value.status == 413
    two_members = gzip.compress(b"ab") + gzip.compress(b"cd")  # RFC 1952 allows several
    assert gunzip(two_members, limit=10) == b"abcd"
    raw_deflate = zlib.compress(payload)  # zlib framing, not gzip
    with pytest.raises(BodyEncodingError) as info:
        gunzip(raw_deflate, limit=10_000)
    assert info.value.status == 400


def test_raw_body_over_the_limit_is_413(drip_emulator):
    drip_emulator.control.configure(max_body_bytes=100)
    response = post(drip_emulator, json.dumps(EVENTS).encode() + b" " * 200)
    assert response.status_code == 413
    assert drip_error(response)["code"] == "length_error"


def test_content_type_is_still_required_with_gzip(drip_emulator):
    body = gzip.compress(
        json.dumps(RESOURCES["events"].envelope(EVENTS["batches"][0]["events"])).encode()
    )
    response = post(
        drip_emulator, body, **{"Content-Encoding": "gzip", "Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    assert "Content-Type" in drip_error(response)["message"]
