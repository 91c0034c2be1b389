"""The batch operators and their sync loop against the emulator over real HTTP.

Each test runs the real operator (real pipeline, real hook, real HTTP) and asserts on what the
emulator — our stand-in for Drip — actually received.
"""

from __future__ import annotations

import json
import math

import pytest

from airflow_provider_drip.exceptions import (
    DripAmbiguousRangeError,
    DripAPIError,
    DripRateLimitError,
    DripServerError,
)
from airflow_provider_drip.operators.drip import (
    DripBatchUpsertOperator,
    DripShopperActivityOperator,
)
from airflow_provider_drip.records import InvalidRecordError
from airflow_provider_drip.resources import RESOURCES, SHOPPER_ACTIVITIES

from .samples import make_records
from .task_context import TaskStateStore, make_context, run_with_deferrals

pytestmark = pytest.mark.integration


def use_connection_extra(monkeypatch, drip, **extra):
    conn = json.loads(drip.airflow_conn_json())
    conn["extra"] = {**(conn.get("extra") or {}), **extra}
    monkeypatch.setenv("AIRFLOW_CONN_DRIP_DEFAULT", json.dumps(conn))


FAST_RETRIES = {"max_retries": 3, "backoff_base": 0.05, "backoff_max": 0.2}


def operator_for(resource: str, **kwargs):
    kwargs.setdefault("task_id", f"send_{resource}")
    kwargs.setdefault("hook_params", FAST_RETRIES)
    if resource in SHOPPER_ACTIVITIES:
        return DripShopperActivityOperator(activity=resource, **kwargs)
    return DripBatchUpsertOperator(resource=resource, **kwargs)


def resource_stats(drip, resource: str) -> dict:
    return drip.control.stats()["resources"].get(resource, {})


def test_2500_subscribers_from_xcom_go_in_three_full_batches(drip):
    records = make_records("subscribers", 2500)
    context = make_context()
    summary = operator_for("subscribers", records=records).execute(context)

    stats = resource_stats(drip, "subscribers")
    assert stats["batch_sizes"] == [1000, 1000, 500]
    assert stats["records_accepted"] == 2500 and stats["duplicates"] == 0
    stored = drip.control.records("subscribers")
    assert [r["email"] for r in stored] == [r["email"] for r in records]
    assert summary["records_sent"] == 2500
    assert summary["batches_sent"] == 3
    assert summary["records_rejected"] == 0
    assert summary["request_ids"] == []
    assert summary["dry_run"] is False
    assert context["task_state_store"].data == {}, "cursor is cleared after success"
    # a local emulator has no Drip web app: the link points at the emulator itself
    assert context["ti"].xcom["_link_DripAccountLink"] == f"{drip.url.rstrip('/')}/"
    (event,) = context["outlet_events"].values()
    assert event.extra["records_sent"] == 2500 and event.extra["account_id"] == drip.account_id


@pytest.mark.parametrize("resource", sorted(RESOURCES))
def test_every_resource_is_accepted_with_its_envelope(drip, resource):
    summary = operator_for(resource, records=make_records(resource, 1500)).execute(make_context())

    stats = resource_stats(drip, resource)
    assert stats["batch_sizes"] == [1000, 500]
    assert stats["records_accepted"] == 1500
    assert drip.control.stats()["errors"]["4xx"] == 0
    assert summary["records_sent"] == 1500 and summary["batches_sent"] == 2
    if RESOURCES[resource].returns_request_ids:
        assert len(summary["request_ids"]) == 1500
        assert len(set(summary["request_ids"])) == 1500
    else:
        assert summary["request_ids"] == []


def test_v3_request_ids_are_collected_in_record_order(drip):
    records = make_records("order", 1200)
    summary = operator_for("order", records=records, batch_size=500).execute(make_context())
    ids = summary["request_ids"]
    assert len(ids) == 1200
    stored = drip.control.records("order")
    assert [r["order_id"] for r in stored] == [r["order_id"] for r in records]
    # the emulator numbers ids in the order it receives records (last UUID group)
    counters = [int(rid.rsplit("-", 1)[1], 16) for rid in ids]
    assert counters == sorted(counters) and len(set(counters)) == 1200


@pytest.mark.parametrize("retry_after", [True, False], ids=["retry-after", "no-retry-after"])
def test_rate_limited_run_delivers_everything_once_without_a_429_storm(
    drip, monkeypatch, retry_after
):
    drip.control.configure(rate_limit=5, rate_window=2.0, retry_after=retry_after)
    use_connection_extra(monkeypatch, drip, rate_limit_wait_seconds=2)
    records = make_records("subscribers", 12_000)

    summary = operator_for("subscribers", records=records, deferrable=False).execute(make_context())

    stats = drip.control.stats()
    assert stats["resources"]["subscribers"]["records_accepted"] == 12_000
    assert stats["resources"]["subscribers"]["duplicates"] == 0
    windows = math.ceil(12 / 5)
    assert stats["errors"]["429"] <= windows, "at most one 429 per window"
    assert summary["records_sent"] == 12_000 and summary["batches_sent"] == 12
    assert summary["rate_limit_waits"] >= 2


@pytest.mark.parametrize("retry_after", [True, False], ids=["retry-after", "no-retry-after"])
def test_deferrable_run_defers_on_long_waits_and_resumes_from_the_cursor(
    drip, monkeypatch, retry_after
):
    drip.control.configure(rate_limit=5, rate_window=2.0, retry_after=retry_after)
    use_connection_extra(monkeypatch, drip, rate_limit_wait_seconds=2)
    records = make_records("events", 12_000)
    store = TaskStateStore()
    operator = operator_for("events", records=records, deferrable=True, defer_after_seconds=0.0)

    summary, deferrals = run_with_deferrals(operator, make_context(store))

    stats = drip.control.stats()
    assert stats["resources"]["events"]["records_accepted"] == 12_000
    assert stats["resources"]["events"]["duplicates"] == 0
    assert deferrals >= 2
    assert summary["deferrals"] == deferrals
    assert summary["records_sent"] == 12_000 and summary["batches_sent"] == 12
    assert stats["errors"]["429"] <= math.ceil(12 / 5)
    assert store.writes >= 12, "the cursor is checkpointed after every accepted batch"


def test_non_deferrable_fails_clearly_when_the_wait_is_too_long(drip, monkeypatch):
    drip.control.configure(rate_limit=2, rate_window=30.0, retry_after=True)
    store = TaskStateStore()
    operator = operator_for(
        "subscribers", records=make_records("subscribers", 3000), max_rate_limit_wait=1
    )
    with pytest.raises(DripRateLimitError, match=r"resumes at record 2,000") as err:
        operator.execute(make_context(store))
    assert "max_rate_limit_wait" in str(err.value)
    assert resource_stats(drip, "subscribers")["records_accepted"] == 2000
    (cursor,) = store.data.values()
    assert cursor["position"] == 2000 and cursor["records_sent"] == 2000


def test_a_retry_after_server_failures_resumes_without_resending(drip):
    """Batch 3 keeps failing with 500 until the hook gives up; the task's retry (same state
    store, as Airflow gives a retried task instance) sends only what is left."""
    drip.control.configure(fault_500_requests=[3, 4, 5, 6])
    store = TaskStateStore()
    records = make_records("events", 5000)
    with pytest.raises(DripServerError):
        operator_for("events", records=records).execute(make_context(store))
    assert resource_stats(drip, "events")["records_accepted"] == 2000

    drip.control.configure(fault_500_requests=[])
    summary = operator_for("events", records=records).execute(make_context(store))

    stats = resource_stats(drip, "events")
    assert stats["records_accepted"] == 5000 and stats["duplicates"] == 0
    assert summary["records_sent"] == 5000 and summary["batches_sent"] == 5
    assert summary["tries"] == 2


def test_request_ids_survive_a_retry_in_order_and_keep_the_cursor_small(drip):
    drip.control.configure(fault_500_requests=[3, 4, 5, 6])
    store = TaskStateStore()
    records = make_records("order", 3000)
    with pytest.raises(DripServerError):
        operator_for("order", records=records).execute(make_context(store))
    largest = max(len(json.dumps(value)) for value in store.data.values())
    assert largest < 65_535, "every state store value fits Airflow's default limit"

    drip.control.configure(fault_500_requests=[])
    summary = operator_for("order", records=records).execute(make_context(store))

    ids = summary["request_ids"]
    assert len(ids) == 3000 and len(set(ids)) == 3000
    counters = [int(rid.rsplit("-", 1)[1], 16) for rid in ids]
    assert counters == sorted(counters)
    assert store.data == {}, "cursor and request id parts are removed after success"


def test_changed_input_does_not_reuse_a_stale_cursor(drip):
    store = TaskStateStore()
    drip.control.configure(fault_500_requests=[2, 3, 4, 5])
    with pytest.raises(DripServerError):
        operator_for("subscribers", records=make_records("subscribers", 3000)).execute(
            make_context(store)
        )
    drip.control.configure(fault_500_requests=[])
    summary = operator_for(
        "subscribers", records=make_records("subscribers", 3000, start=10_000)
    ).execute(make_context(store))
    assert summary["records_sent"] == 3000 and summary["tries"] == 1


def test_faults_idempotent_resource_every_record_delivered(drip):
    drip.control.configure(seed=7, fault_500_rate=0.2, drop_rate=0.1)
    records = make_records("subscribers", 20_000)
    summary = operator_for("subscribers", records=records).execute(make_context())

    stats = drip.control.stats()
    emails = {r["email"] for r in drip.control.records("subscribers")}
    assert emails == {r["email"] for r in records}
    assert summary["records_sent"] == 20_000
    assert stats["errors"]["5xx"] + stats["dropped_connections"] > 0, "faults were injected"
    # resent batches of an idempotent resource show up as HTTP retries in the summary
    assert summary["http_retries"] >= stats["dropped_connections"]


def test_faults_events_resend_policy_reports_possible_duplicates(drip):
    drip.control.configure(seed=3, fault_500_rate=0.2, drop_rate=0.15)
    records = make_records("events", 20_000)
    summary = operator_for("events", records=records, on_ambiguous="resend").execute(make_context())

    stats = drip.control.stats()
    events = stats["resources"]["events"]
    assert events["unique_records"] == 20_000, "every record delivered"
    resent = [r for r in summary["ambiguous_ranges"] if r["action"] == "resent"]
    assert len(resent) == stats["dropped_connections"] > 0
    assert events["duplicates"] == sum(r["records"] for r in resent), "only reported duplicates"


def test_faults_events_fail_policy_stops_and_names_the_range(drip):
    drip.control.configure(drop_requests=[2])
    store = TaskStateStore()
    records = make_records("events", 3000)
    with pytest.raises(DripAmbiguousRangeError, match=r"records 1000-1999"):
        operator_for("events", records=records).execute(make_context(store))
    # a plain retry refuses to guess
    with pytest.raises(DripAmbiguousRangeError, match=r"on_ambiguous='resend'"):
        operator_for("events", records=records).execute(make_context(store))
    assert resource_stats(drip, "events")["records_accepted"] == 2000

    # the user decides Drip has them: carry on after the range
    summary = operator_for("events", records=records, on_ambiguous="skip").execute(
        make_context(store)
    )
    stats = resource_stats(drip, "events")
    assert stats["records_accepted"] == 3000 and stats["duplicates"] == 0
    assert summary["ambiguous_ranges"][-1]["action"] == "assumed_delivered"


def test_on_invalid_fail_sends_nothing_and_names_record_field_rule(drip):
    records = make_records("subscribers", 2500)
    records[1700]["email"] = "not-an-email"
    with pytest.raises(InvalidRecordError) as err:
        operator_for("subscribers", records=records).execute(make_context())
    message = str(err.value)
    assert "1700" in message and "email" in message
    assert drip.control.stats()["batch_requests_admitted"] == 0


def test_on_invalid_skip_writes_rejects_and_sends_the_rest(drip, tmp_path):
    records = make_records("subscribers", 2500)
    for position in (5, 1700):
        records[position]["email"] = f"broken-{position}"
    del records[2000]["email"]
    rejects = tmp_path / "rejects.jsonl"

    summary = operator_for(
        "subscribers", records=records, on_invalid="skip", rejects_path=str(rejects)
    ).execute(make_context())

    stats = drip.control.stats()
    assert stats["resources"]["subscribers"]["records_accepted"] == 2497
    assert stats["resources"]["subscribers"]["batch_sizes"] == [1000, 1000, 497]
    assert stats["errors"]["422"] == 0
    lines = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [line["position"] for line in lines] == [5, 1700, 2000]
    assert lines[0]["record"]["email"] == "broken-5"
    assert all(line["reasons"] for line in lines)
    assert summary["records_rejected"] == 3
    assert summary["rejects_path"] == str(rejects)


def test_a_batch_drip_refuses_fails_naming_what_was_not_sent(drip, monkeypatch):
    conn = json.loads(drip.airflow_conn_json())
    conn["login"] = "1234567"  # an account this token cannot write to
    monkeypatch.setenv("AIRFLOW_CONN_DRIP_DEFAULT", json.dumps(conn))
    with pytest.raises(DripAPIError) as err:
        operator_for("subscribers", records=make_records("subscribers", 1500)).execute(
            make_context()
        )
    assert err.value.status in (403, 404)
    assert "records 0-999 of the input" in str(err.value)
    assert "nothing from this batch was accepted" in str(err.value)
    assert drip.control.stats()["records_accepted"] == 0


def test_dry_run_sends_nothing_and_logs_a_token_free_sample(drip, capsys):
    records = make_records("subscribers", 2500)
    summary = operator_for("subscribers", records=records, dry_run=True).execute(make_context())
    assert resource_stats(drip, "subscribers").get("requests_accepted", 0) == 0
    assert drip.control.stats()["batch_requests_admitted"] == 0
    assert summary["dry_run"] is True
    assert summary["records_sent"] == 0 and summary["batches_planned"] == 3
    assert summary["records_to_send"] == 2500
    logged = capsys.readouterr().out
    assert "Dry run: sample payload" in logged and "user0@example.com" in logged
    assert drip.token not in logged


def test_source_file_is_streamed_and_sent(drip, tmp_path):
    path = tmp_path / "subscribers.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in make_records("subscribers", 1234)) + "\n")
    summary = operator_for("subscribers", source=str(path)).execute(make_context())
    assert summary["records_sent"] == 1234
    assert resource_stats(drip, "subscribers")["batch_sizes"] == [1000, 234]


def test_upserts_checkpoint_at_most_every_interval_events_after_every_batch(drip):
    """Each checkpoint is a round trip to Airflow's API; upserts may be resent harmlessly, so
    they save on a timer; events must never be resent, so they save after every batch."""
    subscribers, events = TaskStateStore(), TaskStateStore()
    operator_for("subscribers", records=make_records("subscribers", 8000)).execute(
        make_context(subscribers)
    )
    operator_for("events", records=make_records("events", 8000)).execute(make_context(events))
    assert events.writes >= 8
    assert subscribers.writes < events.writes
