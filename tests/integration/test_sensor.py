"""DripRequestStatusSensor in poke and reschedule mode, over real HTTP to the emulator.

Request ids come from real v3 batches posted through the hook; the sensor's hook reads the
``drip_default`` connection from ``AIRFLOW_CONN_DRIP_DEFAULT`` as in a deployment.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout

from airflow_provider_drip.hooks.drip import DripHook
from airflow_provider_drip.sensors.drip import PROGRESS_KEY, DripRequestStatusSensor
from airflow_provider_drip.triggers.status_poll import decode_progress
from tests.integration.samples import make_records
from tests.integration.task_context import TaskStateStore, make_context

FAIL = "__drip_fail__"

pytestmark = pytest.mark.integration


def send_orders(count: int, fail: tuple[int, ...] = (), start: int = 0) -> list[str]:
    """Post ``count`` order activities in one batch; records at ``fail`` end ``failed``."""
    records = make_records("order", count, start)
    for index in fail:
        records[index]["order_public_id"] = f"#{index}{FAIL}"
    with DripHook() as hook:
        return hook.post_batch("order", records).request_ids


def status_checks(emulator) -> int:
    return emulator.control.stats()["status_counts"].get("200", 0)


def sensor(**kwargs: Any) -> DripRequestStatusSensor:
    kwargs.setdefault("poke_interval", 0.05)
    kwargs.setdefault("timeout", 20)
    # these tests pin the every-id polling logic; sample mode and pacing have their own
    kwargs.setdefault("verify", "all")
    kwargs.setdefault("max_requests_per_hour", None)
    return DripRequestStatusSensor(task_id="wait_for_drip", **kwargs)


def test_all_completed_returns_the_summary(emulator):
    ids = send_orders(20)
    summary = sensor(request_ids=ids).execute(make_context())
    assert summary == {
        "total": 20,
        "completed": 20,
        "failed": 0,
        "pending": 0,
        "queued": 0,
        "processing": 0,
        "other": 0,
        "unchecked": 0,
        "failed_requests": [],
    }
    # status_polls=1: each id answers queued once, then completed; nothing is checked again
    assert status_checks(emulator) == 40


def test_a_failed_id_fails_the_task_naming_it_and_drips_error(emulator):
    ids = send_orders(10, fail=(3, 7))
    with pytest.raises(AirflowFailException) as info:
        sensor(request_ids=ids).execute(make_context())
    message = str(info.value)
    assert message.startswith("Drip failed to process 2 of 10 request(s)")
    expected = "processing_error attribute=order_public_id: order_public_id was rejected"
    assert f"  - {ids[3]}: {expected}" in message
    assert f"  - {ids[7]}: {expected}" in message
    assert ids[0] not in message


@pytest.mark.parametrize(
    "shape",
    ["summary_dict", "json_text", "python_repr_of_summary", "mapped_summaries", "duplicates"],
)
def test_request_ids_in_every_accepted_shape(emulator, shape):
    ids = send_orders(6)
    summary_dict = {"records_sent": 6, "batches_sent": 1, "request_ids": ids, "dry_run": False}
    value = {
        "summary_dict": summary_dict,
        "json_text": json.dumps(ids),
        "python_repr_of_summary": str(summary_dict),
        "mapped_summaries": [{"request_ids": ids[:3]}, {"request_ids": ids[3:]}],
        "duplicates": ids + ids[::-1],
    }[shape]
    summary = sensor(request_ids=value).execute(make_context())
    assert (summary["total"], summary["completed"]) == (6, 6)


def test_empty_request_ids_succeed_at_once_without_http(emulator, capsys):
    summary = sensor(request_ids={"request_ids": [], "records_sent": 0}).execute(make_context())
    assert (summary["total"], summary["completed"], summary["pending"]) == (0, 0, 0)
    assert emulator.control.stats()["requests_total"] == 0
    assert "No Drip request ids to wait for" in capsys.readouterr().out


def test_reschedule_mode_pokes_keep_progress_in_the_task_state_store(emulator):
    """Each reschedule-mode poke runs on a fresh operator instance; only the store survives."""
    emulator.control.configure(status_polls=0, status_seconds=0.4)
    ids = send_orders(40)
    store = TaskStateStore()
    first = sensor(request_ids=ids, mode="reschedule", probe_window=4)
    assert first.poke(make_context(store)) is False  # all still queued: 4 checks, round ends
    assert status_checks(emulator) == 4
    time.sleep(0.45)
    ids += send_orders(10, start=40)  # a later batch: these stay queued for a while
    store.data.clear()  # the id list changed (new fingerprint): start over on purpose
    second = sensor(request_ids=ids, mode="reschedule", probe_window=4)
    assert second.poke(make_context(store)) is False
    # 40 completed, then 4 of the 10 fresh ids were seen queued and the round ended
    assert status_checks(emulator) == 4 + 44
    assert decode_progress(ids, store.get(PROGRESS_KEY)) == set(ids[:40])
    time.sleep(0.45)
    third = sensor(request_ids=ids, mode="reschedule", probe_window=4)
    result = third.poke(make_context(store))
    assert result.is_done
    assert result.xcom_value["completed"] == 50
    assert status_checks(emulator) == 48 + 10  # only the ids that were still pending


def test_without_task_state_store_progress_lives_in_memory_between_pokes(emulator):
    ids = send_orders(12)
    wait = sensor(request_ids=ids)
    context = {"ti": None}
    assert wait.poke(context) is False
    result = wait.poke(context)
    assert result.is_done
    assert status_checks(emulator) == 24


def test_probe_window_saves_status_checks_on_a_large_queue(emulator):
    """1000 ids not processed yet: a poke checks a handful, not all of them.

    Drip's queue is driven through the emulator's config rather than the clock (the emulator
    judges an id's age at poll time), so the number of pokes that find the queue still waiting
    is the same on a fast or a loaded machine: two here, then Drip has processed everything.
    """
    emulator.control.configure(status_polls=0, status_seconds=3600)
    ids = send_orders(1000)
    started = time.monotonic()
    wait = sensor(request_ids=ids)
    context = make_context()
    assert wait.poke(context) is False
    assert wait.poke(context) is False
    emulator.control.configure(status_seconds=0)
    summary = wait.poke(context).xcom_value
    elapsed = time.monotonic() - started
    assert summary["completed"] == 1000
    checks = status_checks(emulator)
    # a naive poke checks all 1000 ids every time (3 pokes before they are all done)
    assert checks < 1000 + 3 * 16, checks
    assert elapsed < 15


def test_unknown_id_gives_a_clear_404_error(emulator):
    ids = send_orders(3)
    unknown = "00000000-0000-4000-8000-00000000dead"
    with pytest.raises(AirflowFailException) as info:
        sensor(request_ids=[*ids, unknown], probe_window=None).execute(make_context())
    message = str(info.value)
    assert f"404 Not Found for 1 request id(s) ({unknown})" in message
    assert "unknown to Drip account" in message
    assert "'request_status_path'" in message


def test_missing_status_endpoint_says_the_path_can_be_configured(emulator):
    ids = send_orders(3)
    emulator.control.configure(status_endpoint=False)
    with pytest.raises(AirflowFailException) as info:
        sensor(request_ids=ids).execute(make_context())
    message = str(info.value)
    assert "404 Not Found for 3 request id(s)" in message
    assert "GET /v3/{account_id}/shopper_activity/requests/{request_id}" in message
    assert "status endpoint is not available at that path" in message
    assert "connection extra 'request_status_path'" in message


def test_request_status_path_from_the_connection_extra_is_used(emulator, monkeypatch):
    conn = json.loads(emulator.airflow_conn_json())
    conn["extra"] = json.dumps({"request_status_path": "/v9/{account_id}/status/{request_id}"})
    monkeypatch.setenv("AIRFLOW_CONN_DRIP_CUSTOM", json.dumps(conn))
    ids = send_orders(2)
    with pytest.raises(AirflowFailException, match=r"at GET /v9/\{account_id\}/status/"):
        sensor(request_ids=ids, drip_conn_id="drip_custom").execute(make_context())


def test_times_out_while_ids_stay_queued(emulator):
    emulator.control.configure(status_polls=0, status_seconds=60)
    ids = send_orders(2)
    with pytest.raises(AirflowSensorTimeout):
        sensor(request_ids=ids, timeout=0.3).execute(make_context())


def test_token_never_appears_in_messages_or_summary(emulator):
    ids = send_orders(4, fail=(1,))
    with pytest.raises(AirflowFailException) as info:
        sensor(request_ids=ids).execute(make_context())
    assert emulator.token not in str(info.value)
    hook = sensor(request_ids=ids).hook
    hook.settings  # noqa: B018 - resolve the connection, as a poke does
    assert emulator.token not in repr(hook)
