"""Digests: taken from the payload bytes, stable across processes, keyed by the resource's
change keys, strict on missing keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from hashlib import blake2b

import msgspec
import pytest

from airflow_provider_drip.state.digest import (
    KeySpec,
    MissingKeyError,
    PayloadDigester,
    content_digest,
    key_spec_for,
    payload_of,
    record_digests,
)

SUBSCRIBER = {"email": "ann@example.com", "first_name": "Ann", "tags": ["a", "b"], "n": 1.5}


def _digests(spec: KeySpec, record: dict) -> tuple[int, int]:
    return tuple(PayloadDigester(spec).digests(msgspec.json.encode(record)))


def test_known_answer_pins_the_digest_scheme():
    # If this changes, every stored state classifies wrongly: bump DIGEST_VERSION instead.
    payload = b'{"email":"ann@example.com","first_name":"Ann"}'
    assert payload_of({"email": "ann@example.com", "first_name": "Ann"}) == payload
    d = record_digests({"email": "ann@example.com", "first_name": "Ann"}, "subscribers")
    assert (d.key, d.content) == (KNOWN_KEY, KNOWN_CONTENT)
    # ...and the scheme, spelt out: BLAKE2b over "field NUL value" for the key, the first
    # 8 bytes of BLAKE2b-512 of the payload for the content, both read little-endian.
    key = blake2b(b"email\x00ann@example.com", digest_size=8, person=b"drip-key").digest()
    assert d.key == int.from_bytes(key, "little")
    assert d.content == int.from_bytes(blake2b(payload).digest()[:8], "little")
    assert content_digest(payload) == d.content


KNOWN_KEY = 8464535638343684256
KNOWN_CONTENT = 4674824809196840975


def test_same_record_same_digests_in_another_process():
    records = [SUBSCRIBER, {"email": "b@example.com", "odd": "x\u00e9y", "n": None}]
    here = [tuple(record_digests(r, "subscribers")) for r in records]
    code = (
        "import sys, json\n"
        "from airflow_provider_drip.state.digest import record_digests\n"
        f"records = {records!r}\n"
        "print(json.dumps([list(record_digests(r, 'subscribers')) for r in records]))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert [tuple(x) for x in json.loads(out.stdout)] == here


def test_the_bytes_decide_the_content_and_the_values_the_key():
    # The payload is what was sent: reordered fields are other bytes (changed once), same key.
    reordered = dict(reversed(list(SUBSCRIBER.items())))
    a, b = record_digests(SUBSCRIBER, "subscribers"), record_digests(reordered, "subscribers")
    assert a.key == b.key and a.content != b.content
    changed = {**SUBSCRIBER, "first_name": "Anne"}
    a, b = record_digests(SUBSCRIBER, "subscribers"), record_digests(changed, "subscribers")
    assert a.key == b.key
    assert a.content != b.content


def test_first_complete_alternative_is_the_key():
    spec = key_spec_for("subscribers")  # (email,) or (id,)
    by_email = _digests(spec, {"email": "x@example.com", "id": "1"})
    assert by_email[0] == _digests(spec, {"email": "x@example.com", "id": "2"})[0]
    by_id = _digests(spec, {"email": "  ", "id": "1"})  # blank email: fall back to id
    assert by_id[0] == _digests(spec, {"id": "1", "first_name": "Z"})[0]
    assert by_id[0] != by_email[0]


def test_key_names_its_fields():
    spec = key_spec_for("subscribers")
    assert _digests(spec, {"email": "same"})[0] != _digests(spec, {"id": "same"})[0]
    assert _digests(spec, {"id": 7})[0] != _digests(spec, {"id": "7"})[0]  # typed values


def test_multi_field_keys():
    spec = key_spec_for("product")
    with_variant = {"provider": "shopify", "product_id": "p", "product_variant_id": "v"}
    with_variant["action"] = "created"
    without = {"provider": "shopify", "product_id": "p", "action": "created"}
    assert _digests(spec, with_variant)[0] != _digests(spec, without)[0]
    other_provider = {**without, "provider": "woo"}
    assert _digests(spec, without)[0] != _digests(spec, other_provider)[0]
    assert _digests(spec, without)[0] == _digests(spec, {**without, "price": 5})[0]


@pytest.mark.parametrize(
    "record",
    [{}, {"first_name": "Ann"}, {"email": ""}, {"email": None, "id": []}],
)
def test_missing_key_is_a_reject_with_a_reason(record):
    with pytest.raises(MissingKeyError) as err:
        record_digests(record, "subscribers")
    assert "email or id" in err.value.reason


def test_missing_part_of_a_compound_key():
    with pytest.raises(MissingKeyError, match="provider\\+cart_id"):
        record_digests({"cart_id": "c1"}, "cart")


@pytest.mark.parametrize("payload", [b'["email"]', b"7", b"not json"])
def test_a_payload_that_is_not_an_object_is_rejected(payload):
    with pytest.raises(MissingKeyError, match="not an object"):
        PayloadDigester(key_spec_for("subscribers")).key(payload)
    with pytest.raises(MissingKeyError, match="list"):
        payload_of(["email"])  # type: ignore[arg-type]


def test_events_are_keyed_by_the_whole_record():
    spec = key_spec_for("events")
    assert spec.whole_record
    e1 = {"email": "a@example.com", "action": "Clicked", "occurred_at": "2026-01-01T00:00:00Z"}
    e2 = {**e1, "occurred_at": "2026-01-02T00:00:00Z"}
    assert _digests(spec, e1)[0] != _digests(spec, e2)[0]
    assert _digests(spec, e1) == _digests(spec, dict(e1))
    assert _digests(spec, {})[0] == _digests(spec, {})[0]  # an empty event is still a fact
    assert _digests(spec, e1)[0] != _digests(spec, e1)[1]  # key and content never coincide


def test_key_fields_override():
    spec = key_spec_for("subscribers", key_fields=("user_id",))
    assert spec == KeySpec((("user_id",),))
    assert key_spec_for("events", key_fields="event_id") == KeySpec((("event_id",),))
    assert _digests(spec, {"user_id": 7, "email": "a"})[0] == _digests(spec, {"user_id": 7})[0]
    with pytest.raises(MissingKeyError, match="user_id"):
        _digests(spec, {"email": "a@example.com"})
    odd = key_spec_for("subscribers", key_fields=("class", "user-id"))  # not identifiers
    one, two = {"class": "a", "user-id": 1}, {"class": "a", "user-id": 2}
    assert _digests(odd, one)[0] != _digests(odd, two)[0]
    with pytest.raises(MissingKeyError, match="class\\+user-id"):
        _digests(odd, {"class": "a"})
    assert odd.fingerprint == '[["class","user-id"]]' != spec.fingerprint
    with pytest.raises(ValueError):
        key_spec_for("subscribers", key_fields=())


def test_digests_do_not_import_airflow():
    # the store needs airflow.sdk; a process that only digests records must not pay for it
    code = (
        "import sys\n"
        "from airflow_provider_drip.state import PayloadDigester, key_spec_for\n"
        "PayloadDigester(key_spec_for('events')).digests(b'{\"a\":1}')\n"
        "print(sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_lazy_names_resolve():
    import airflow_provider_drip.state as state

    assert state.SyncStateStore.__name__ == "SyncStateStore"
    assert issubclass(state.SyncStateConflictError, state.SyncStateError)
    with pytest.raises(AttributeError):
        _ = state.NoSuchName
