"""DripHook against the Drip emulator: the same calls an operator makes, end to end over HTTP."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest

from airflow_provider_drip.exceptions import (
    DripAmbiguousOutcomeError,
    DripAPIError,
    DripRateLimitError,
)
from airflow_provider_drip.hooks.drip import DripHook
from airflow_provider_drip.resources import RESOURCES
from tests.integration.samples import make_record


@pytest.fixture
def connect(drip_emulator, monkeypatch):
    hooks: list[DripHook] = []

    def make(conn_id: str = "drip_emu", **fields) -> DripHook:
        value = json.loads(drip_emulator.airflow_conn_json())
        value.update(fields)
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(value))
        hook = DripHook(conn_id, backoff_base=0.01, backoff_max=0.05)
        hooks.append(hook)
        return hook

    yield make
    for hook in hooks:
        hook.close()


@pytest.mark.parametrize("resource", sorted(RESOURCES))
def test_every_resource_is_accepted_and_stored(drip_emulator, connect, resource):
    records = [make_record(resource, i) for i in range(3)]
    result = connect().post_batch(resource, records)
    res = RESOURCES[resource]
    assert result.status == res.success_status
    assert len(result.request_ids) == (3 if res.returns_request_ids else 0)
    assert result.rate_limit_limit == 50 and result.rate_limit_remaining == 49
    assert len(drip_emulator.control.records(resource)) == 3


@pytest.mark.parametrize("resource", ["subscribers", "order"])
def test_gzipped_batches_are_accepted(drip_emulator, connect, resource):
    records = [make_record(resource, i) for i in range(20)]
    result = connect(extra=json.dumps({"gzip_requests": True})).post_batch(resource, records)
    assert result.status == RESOURCES[resource].success_status
    assert len(drip_emulator.control.records(resource)) == 20


def test_rate_limit_waited_out_then_refused(drip_emulator, connect):
    drip_emulator.control.configure(rate_limit=1, rate_window=1.5)
    hook = connect()
    hook.batch_rate_limit_floor_s = 1.0  # wait the emulator's ~1.5 s, not the 5 s floor
    hook.post_batch("subscribers", [make_record("subscribers", 0)])
    started = time.monotonic()
    second = hook.post_batch("subscribers", [make_record("subscribers", 1)], max_rate_limit_wait=5)
    assert second.rate_limit_waited_s >= 1 and time.monotonic() - started >= 1
    assert second.attempts == 1
    with pytest.raises(DripRateLimitError) as info:
        hook.post_batch("subscribers", [make_record("subscribers", 2)])
    assert info.value.limit == 1
    assert info.value.retry_at > datetime.now(timezone.utc)
    assert "rate limit" in info.value.drip_message.lower()
    assert len(drip_emulator.control.records("subscribers")) == 2


def test_503_retried(drip_emulator, connect):
    drip_emulator.control.configure(fault_503_requests=[1])
    result = connect().post_batch("events", [make_record("events", 0)])
    assert result.attempts == 2
    assert len(drip_emulator.control.records("events")) == 1


def test_dropped_answer_is_ambiguous_for_events(drip_emulator, connect):
    drip_emulator.control.configure(drop_requests=[1])
    with pytest.raises(DripAmbiguousOutcomeError):
        connect().post_batch("events", [make_record("events", 0)])
    # Drip did record it: exactly why the hook must not resend on its own.
    assert len(drip_emulator.control.records("events")) == 1


def test_dropped_answer_is_retried_for_subscribers(drip_emulator, connect):
    drip_emulator.control.configure(drop_requests=[1])
    result = connect().post_batch("subscribers", [make_record("subscribers", 0)])
    assert result.attempts == 2


def test_request_status_round_trip(drip_emulator, connect):
    drip_emulator.control.configure(status_polls=2)
    hook = connect()
    (request_id,) = hook.post_batch("cart", [make_record("cart", 0)]).request_ids
    states = [hook.get_request_status(request_id).status for _ in range(3)]
    assert states == ["queued", "processing", "completed"]


def test_request_status_endpoint_missing(drip_emulator, connect):
    hook = connect()
    (request_id,) = hook.post_batch("order", [make_record("order", 0)]).request_ids
    drip_emulator.control.configure(status_endpoint=False)
    with pytest.raises(DripAPIError, match="request_status_path") as info:
        hook.get_request_status(request_id)
    assert info.value.status == 404


def test_test_connection(drip_emulator, connect):
    ok, message = connect().test_connection()
    assert ok, message
    ok, message = connect("drip_other", login="1234567").test_connection()
    assert not ok and "1234567" in message
    ok, message = connect("drip_badtoken", password="not-the-token").test_connection()
    assert not ok and "401" in message and "not-the-token" not in message


def test_get_subscriber(drip_emulator, connect):
    hook = connect()
    hook.post_batch("subscribers", [{"email": "Ann+x@example.com", "tags": ["VIP"]}])
    found = hook.get_subscriber("ann+x@example.com") or hook.get_subscriber("Ann+x@example.com")
    assert found is not None and found["email"].lower() == "ann+x@example.com"
    assert hook.get_subscriber("nobody@example.com") is None
