"""Change-only syncs (``sync_mode="changed"``) across DAG runs, against the emulator.

Each "DAG run" is a new task context (new task state store, new run id) over the same
``state_path``: only the sync state carries over, as between real DAG runs.
"""

from __future__ import annotations

import json

import pytest

from airflow_provider_drip.operators.drip import (
    DripBatchUpsertOperator,
    DripShopperActivityOperator,
)
from airflow_provider_drip.state import SyncStateStore

from .samples import make_records
from .task_context import make_context

pytestmark = pytest.mark.integration

FAST_RETRIES = {"max_retries": 1, "backoff_base": 0.01, "backoff_max": 0.05}


def upsert(resource: str, records, state_path, **kwargs):
    return DripBatchUpsertOperator(
        task_id=f"sync_{resource}",
        resource=resource,
        records=records,
        sync_mode="changed",
        state_path=str(state_path),
        hook_params=FAST_RETRIES,
        **kwargs,
    )


def received(drip, resource: str) -> list[int]:
    return drip.control.stats()["resources"].get(resource, {}).get("batch_sizes", [])


def test_three_runs_first_unchanged_then_two_percent_changed(drip, tmp_path):
    records = make_records("subscribers", 2500)
    first = upsert("subscribers", records, tmp_path).execute(make_context(run_id="r1"))
    assert first["records_sent"] == 2500 and first["records_new"] == 2500
    assert first["records_unchanged"] == 0 and first["sync_mode"] == "changed"

    second = upsert("subscribers", records, tmp_path).execute(make_context(run_id="r2"))
    assert second["records_sent"] == 0 and second["batches_sent"] == 0
    assert second["records_unchanged"] == 2500

    changed = [dict(r) for r in records]
    for i in range(0, 2500, 50):  # 2%
        changed[i]["custom_fields"] = {"shirt_size": "XL"}
    added = make_records("subscribers", 10, start=5000)
    third = upsert("subscribers", changed + added, tmp_path).execute(make_context(run_id="r3"))
    assert third["records_sent"] == 60 and third["batches_sent"] == 1
    assert (third["records_changed"], third["records_new"]) == (50, 10)
    assert third["records_unchanged"] == 2450
    assert received(drip, "subscribers") == [1000, 1000, 500, 60]


def test_events_run_twice_arrive_once(drip, tmp_path):
    events = make_records("events", 30)
    upsert("events", events, tmp_path, batch_size=10).execute(make_context(run_id="r1"))
    again = upsert("events", events, tmp_path, batch_size=10).execute(make_context(run_id="r2"))
    assert again["records_sent"] == 0 and again["records_unchanged"] == 30
    assert len(drip.control.records("events")) == 30


def test_a_run_that_fails_midway_keeps_what_drip_accepted(drip, tmp_path):
    orders = make_records("order", 30)
    drip.control.configure(fault_500_requests=[3, 4, 5])  # the third batch keeps failing
    operator = DripShopperActivityOperator(
        task_id="orders",
        activity="order",
        records=orders,
        batch_size=10,
        sync_mode="changed",
        state_path=str(tmp_path),
        hook_params=FAST_RETRIES,
    )
    with pytest.raises(Exception, match="500"):
        operator.execute(make_context(run_id="r1"))
    drip.control.configure(fault_500_requests=[])
    # a new DAG run: the 20 accepted records are not sent again, the 10 others are
    summary = operator.execute(make_context(run_id="r2"))
    assert summary["records_sent"] == 10 and summary["records_unchanged"] == 20
    assert received(drip, "order") == [10, 10, 10]


def test_a_record_without_its_key_is_a_reject_with_the_reason(drip, tmp_path):
    records = make_records("subscribers", 5)
    records[2] = {"id": "", "email": ""}  # no usable key (and not a valid subscriber)
    rejects = tmp_path / "rejects.jsonl"
    summary = upsert(
        "subscribers",
        [*records[:2], {"user_id": "u-1", "email": "keyed@example.com"}, *records[3:]],
        tmp_path / "state",
        on_invalid="skip",
        rejects_path=str(rejects),
        key_fields=["user_id", "email"],
    ).execute(make_context())
    assert summary["records_sent"] == 1 and summary["records_rejected"] == 4
    lines = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert {r["reasons"][0]["rule"] for r in lines} == {"change_key"}
    assert "user_id+email" in lines[0]["reasons"][0]["field"]


def test_dry_run_reports_what_would_be_sent_and_changes_nothing(drip, tmp_path):
    records = make_records("subscribers", 20)
    upsert("subscribers", records[:15], tmp_path).execute(make_context(run_id="r1"))
    path = SyncStateStore.path_for(tmp_path, drip.account_id, "subscribers", "test_dag.test_task")
    before = path.read_bytes()
    dry = upsert("subscribers", records, tmp_path, dry_run=True).execute(make_context())
    assert dry["dry_run"] is True and dry["records_to_send"] == 5
    assert dry["records_unchanged"] == 15
    assert path.read_bytes() == before
    assert received(drip, "subscribers") == [15]


def test_full_refresh_resends_everything_and_rebuilds_the_state(drip, tmp_path):
    records = make_records("subscribers", 12)
    upsert("subscribers", records, tmp_path).execute(make_context(run_id="r1"))
    refreshed = upsert("subscribers", records[:4], tmp_path, full_refresh="True").execute(
        make_context(run_id="r2")
    )
    assert refreshed["records_sent"] == 4 and refreshed["full_refresh"] is True
    info = SyncStateStore.info(tmp_path, drip.account_id, "subscribers", "test_dag.test_task")
    assert info.count == 4  # rebuilt from what this run sent, not merged into the old state
    after = upsert("subscribers", records, tmp_path).execute(make_context(run_id="r3"))
    assert after["records_sent"] == 8


def test_two_runs_on_one_state_at_once_fail_clearly_instead_of_losing_updates(drip, tmp_path):
    """Serialising is the user's job (an Airflow pool of 1); the store detects the overlap."""
    from airflow_provider_drip.state import SyncStateConflictError

    store_args = (tmp_path, drip.account_id, "subscribers", "shared")
    one = SyncStateStore.open(*store_args)
    two = SyncStateStore.open(*store_args)
    one.mark_accepted([(1, 1)])
    one.commit()
    two.mark_accepted([(2, 2)])
    with pytest.raises(SyncStateConflictError):
        two.commit()


def _write_jsonl(path, records, *, crlf_at=()):
    lines = [json.dumps(r, separators=(",", ":")) for r in records]
    path.write_bytes(
        b"".join(
            line.encode() + (b"  \r\n" if i in crlf_at else b"\n") for i, line in enumerate(lines)
        )
    )
    return path


def test_a_jsonl_file_is_classified_by_its_line_bytes_across_runs(drip, tmp_path):
    """JSON lines sent as they are: an unchanged line is recognised by its bytes (the raw-line
    shortcut), a changed, new, or reshaped line is not, and positions stay exact."""
    records = make_records("subscribers", 300)
    source = tmp_path / "people.jsonl"
    state = tmp_path / "state"
    _write_jsonl(source, records)
    first = upsert("subscribers", None, state, source=str(source), batch_size=100)
    assert first.execute(make_context(run_id="r1"))["records_sent"] == 300

    # trailing spaces and CRLF are not part of a line's payload: still unchanged
    _write_jsonl(source, records, crlf_at={0, 150})
    again = upsert("subscribers", None, state, source=str(source), batch_size=100)
    summary = again.execute(make_context(run_id="r2"))
    assert (summary["records_sent"], summary["records_unchanged"]) == (0, 300)

    changed = [dict(r) for r in records]
    for i in (0, 7, 299):
        changed[i]["custom_fields"] = {"shirt_size": "XL"}
    bad = {"email": "not-an-email"}  # a reject in the middle, named by its line
    _write_jsonl(source, [*changed[:150], bad, *changed[150:]])
    rejects = tmp_path / "rejects.jsonl"
    third = upsert(
        "subscribers",
        None,
        state,
        source=str(source),
        on_invalid="skip",
        rejects_path=str(rejects),
    ).execute(make_context(run_id="r3"))
    assert (third["records_sent"], third["records_changed"]) == (3, 3)
    assert (third["records_unchanged"], third["records_rejected"]) == (297, 1)
    rejected = json.loads(rejects.read_text().splitlines()[0])
    assert rejected["position"] == 150 and "line 151" in json.dumps(rejected)
    sent = drip.control.records("subscribers")[-3:]
    assert [r["email"] for r in sent] == [records[i]["email"] for i in (0, 7, 299)]


def test_a_csv_file_in_changed_mode(drip, tmp_path):
    source = tmp_path / "people.csv"
    rows = [f"user{i}@example.com,Ann,{i}" for i in range(40)]
    source.write_text("email,first_name,custom_fields.n\n" + "\n".join(rows) + "\n")
    state = tmp_path / "state"
    assert (
        upsert("subscribers", None, state, source=str(source)).execute(make_context(run_id="r1"))[
            "records_sent"
        ]
        == 40
    )
    rows[5] = "user5@example.com,Anne,5"
    source.write_text("email,first_name,custom_fields.n\n" + "\n".join(rows) + "\n")
    summary = upsert("subscribers", None, state, source=str(source)).execute(
        make_context(run_id="r2")
    )
    assert (summary["records_sent"], summary["records_unchanged"]) == (1, 39)


def test_other_key_fields_than_the_state_was_built_with_are_refused(drip, tmp_path):
    """Keys taken another way never match, so their old entries would linger: refuse, and say
    how to rebuild."""
    from airflow_provider_drip.state import SyncStateCorruptError

    records = make_records("subscribers", 5)
    upsert("subscribers", records, tmp_path).execute(make_context(run_id="r1"))
    with pytest.raises(SyncStateCorruptError, match=r"key fields .*full_refresh=True"):
        upsert("subscribers", records, tmp_path, key_fields="email").execute(
            make_context(run_id="r2")
        )
    rebuilt = upsert("subscribers", records, tmp_path, key_fields="email", full_refresh=True)
    assert rebuilt.execute(make_context(run_id="r3"))["records_sent"] == 5
    again = upsert("subscribers", records, tmp_path, key_fields="email")
    assert again.execute(make_context(run_id="r4"))["records_unchanged"] == 5


def test_two_records_for_one_key_alternate_unless_deduplicated(drip, tmp_path):
    """What docs/changed.md says about one record per key, shown both ways."""
    first = {"email": "twice@example.com", "first_name": "A"}
    last = {"email": "twice@example.com", "first_name": "B"}
    plain = [upsert("subscribers", [first, last], tmp_path / "plain") for _ in range(2)]
    assert plain[0].execute(make_context(run_id="r1"))["records_sent"] == 2
    assert plain[1].execute(make_context(run_id="r2"))["records_sent"] == 1  # "A" again

    deduped = [
        upsert("subscribers", [first, last], tmp_path / "deduped", dedupe=True) for _ in range(2)
    ]
    assert deduped[0].execute(make_context(run_id="r1"))["records_sent"] == 1
    again = deduped[1].execute(make_context(run_id="r2"))
    assert (again["records_sent"], again["records_unchanged"]) == (0, 1)
    assert drip.control.records("subscribers")[-1]["first_name"] == "B"
