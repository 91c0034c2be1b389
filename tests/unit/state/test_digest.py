"""Digests: stable across processes, keyed by the resource's change keys, strict on missing keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from airflow_provider_drip.state.digest import (
    KeySpec,
    MissingKeyError,
    RecordDigester,
    canonical_json,
    key_spec_for,
    record_digests,
)

SUBSCRIBER = {"email": "ann@example.com", "first_name": "Ann", "tags": ["a", "b"], "n": 1.5}


def test_known_answer_pins_the_digest_scheme():
    # If this changes, every stored state classifies wrongly: bump DIGEST_VERSION instead.
    d = record_digests({"email": "ann@example.com", "first_name": "Ann"}, "subscribers")
    assert canonical_json({"b": 1, "a": [1, {"d": None, "c": "é"}]}) == (
        '{"a":[1,{"c":"é","d":null}],"b":1}'.encode()
    )
    assert (d.key, d.content) == (KNOWN_KEY, KNOWN_CONTENT)


KNOWN_KEY = 6483643257241051027
KNOWN_CONTENT = 367304798561466030


def test_same_record_same_digests_in_another_process():
    records = [SUBSCRIBER, {"email": "b@example.com", "odd": "x\ud800y", 1: "int key"}]
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


def test_field_order_does_not_matter_but_values_do():
    reordered = dict(reversed(list(SUBSCRIBER.items())))
    assert record_digests(reordered, "subscribers") == record_digests(SUBSCRIBER, "subscribers")
    changed = {**SUBSCRIBER, "first_name": "Anne"}
    a, b = record_digests(SUBSCRIBER, "subscribers"), record_digests(changed, "subscribers")
    assert a.key == b.key
    assert a.content != b.content


def test_first_complete_alternative_is_the_key():
    dg = RecordDigester(key_spec_for("subscribers"))  # (email,) or (id,)
    by_email = dg.digests({"email": "x@example.com", "id": "1"})
    assert by_email.key == dg.digests({"email": "x@example.com", "id": "2"}).key
    by_id = dg.digests({"email": "  ", "id": "1"})  # blank email: fall back to id
    assert by_id.key == dg.digests({"id": "1", "first_name": "Z"}).key
    assert by_id.key != by_email.key


def test_key_names_its_fields():
    dg = RecordDigester(key_spec_for("subscribers"))
    assert dg.digests({"email": "same"}).key != dg.digests({"id": "same"}).key


def test_multi_field_keys():
    dg = RecordDigester(key_spec_for("product"))
    with_variant = {"provider": "shopify", "product_id": "p", "product_variant_id": "v"}
    with_variant["action"] = "created"
    without = {"provider": "shopify", "product_id": "p", "action": "created"}
    assert dg.digests(with_variant).key != dg.digests(without).key
    other_provider = {**without, "provider": "woo"}
    assert dg.digests(without).key != dg.digests(other_provider).key


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


def test_non_mapping_record_is_rejected():
    with pytest.raises(MissingKeyError, match="list"):
        RecordDigester(key_spec_for("subscribers")).digests(["email"])  # type: ignore[arg-type]


def test_events_are_keyed_by_the_whole_record():
    spec = key_spec_for("events")
    assert spec.whole_record
    dg = RecordDigester(spec)
    e1 = {"email": "a@example.com", "action": "Clicked", "occurred_at": "2026-01-01T00:00:00Z"}
    e2 = {**e1, "occurred_at": "2026-01-02T00:00:00Z"}
    assert dg.digests(e1).key != dg.digests(e2).key
    assert dg.digests(e1) == dg.digests(dict(reversed(list(e1.items()))))
    assert dg.digests({}).key == dg.digests({}).key  # an empty event is still a (silly) fact


def test_key_fields_override():
    spec = key_spec_for("subscribers", key_fields=("user_id",))
    assert spec == KeySpec((("user_id",),))
    assert key_spec_for("events", key_fields="event_id") == KeySpec((("event_id",),))
    dg = RecordDigester(spec)
    assert dg.digests({"user_id": 7, "email": "a"}).key == dg.digests({"user_id": 7}).key
    with pytest.raises(MissingKeyError, match="user_id"):
        dg.digests({"email": "a@example.com"})
    with pytest.raises(ValueError):
        key_spec_for("subscribers", key_fields=())


def test_surrogates_and_non_json_values_are_stable():
    a = {"email": "a@example.com", "name": "bad\udcff"}
    b = {"email": "a@example.com", "name": "bad\udcfe"}
    assert record_digests(a, "subscribers") == record_digests(dict(a), "subscribers")
    assert record_digests(a, "subscribers").content != record_digests(b, "subscribers").content
    assert canonical_json({"x": "\ud800"}) == b'{"x":"\xed\xa0\x80"}'


def test_digests_do_not_import_airflow():
    # the store needs airflow.sdk; a process that only digests records must not pay for it
    code = (
        "import sys\n"
        "from airflow_provider_drip.state import RecordDigester, key_spec_for\n"
        "RecordDigester(key_spec_for('events')).digests({'a': 1})\n"
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
