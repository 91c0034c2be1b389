"""Pure pieces of the sync loop: prefetching, progress lines, cursor persistence, options."""

from __future__ import annotations

import threading
import time

import pytest

from airflow_provider_drip.sync.checkpoint import (
    SyncCursor,
    TaskStateCheckpoint,
)
from airflow_provider_drip.sync.loop import SyncOptions
from airflow_provider_drip.sync.prefetch import Prefetcher
from airflow_provider_drip.sync.progress import ProgressTracker, format_duration


def test_prefetcher_yields_everything_in_order():
    with Prefetcher(iter(range(1000)), depth=2) as items:
        assert list(items) == list(range(1000))


def test_prefetcher_reraises_producer_errors_after_good_items():
    def produce():
        yield 1
        yield 2
        raise ValueError("bad record at position 2")

    seen = []
    with pytest.raises(ValueError, match="position 2"), Prefetcher(produce()) as items:
        for item in items:
            seen.append(item)
    assert seen == [1, 2]


def test_prefetcher_stays_bounded_and_stops_when_closed():
    produced = []

    def produce():
        for i in range(10_000):
            produced.append(i)
            yield i

    prefetcher = Prefetcher(produce(), depth=2)
    first = next(iter(prefetcher))
    time.sleep(0.3)
    # consumer took 1; at most depth items queued plus one blocked in put()
    assert first == 0
    assert len(produced) <= 4
    prefetcher.close()
    assert not any(t.name == "drip-prefetch" and t.is_alive() for t in threading.enumerate())


def test_format_duration():
    assert format_duration(5) == "5s"
    assert format_duration(75) == "1m15s"
    assert format_duration(3 * 3600 + 120) == "3h02m"


def test_progress_line_counts_and_eta_at_rate_budget():
    tracker = ProgressTracker(resource="subscribers", batch_size=1000, total=10_000)
    tracker.batches_this_try = 1
    tracker.rate_limit, tracker.rate_limit_remaining = 50, 0
    line = tracker.line(
        position=1003, records_sent=1000, batches_sent=1, rejected=3, waits=0, wait_s=0
    )
    assert "subscribers: 1,003/10,000 records processed (10.0%)" in line
    assert "1,000 sent in 1 batch," in line and "3 rejected" in line
    assert "budget 0/50 left" in line
    # 9 batches left, none in this hour's budget: 9/50 of an hour
    assert tracker.eta_seconds(1000, elapsed=1.0, waited=False) == pytest.approx(9 / 50 * 3600)
    # once waits happened, the observed pace (which includes them) is the estimate
    assert tracker.eta_seconds(1000, elapsed=2.0, waited=True) == pytest.approx(18.0)


def test_progress_line_without_total():
    tracker = ProgressTracker(resource="events", batch_size=1000)
    line = tracker.line(position=5, records_sent=5, batches_sent=2, rejected=0, waits=1, wait_s=2.0)
    assert line.startswith("events: 5 records processed of a total not known yet")
    assert "5 sent in 2 batches" in line and "1 rate-limit wait (2s)" in line
    assert "ETA unknown" in line


class FakeTaskStateStore:
    """The tiny get/set/delete surface of Airflow's TaskStateStoreAccessor."""

    def __init__(self):
        self.data = {}

    def get(self, key, default=None):
        return self.data.get(key, default)

    def set(self, key, value):
        self.data[key] = value

    def delete(self, key):
        self.data.pop(key, None)


def test_cursor_round_trips_through_task_state_store():
    store = FakeTaskStateStore()
    checkpoint = TaskStateCheckpoint(store, "drip-sync/events/abc")
    cursor = SyncCursor(fingerprint="abc", position=2000, records_sent=1990, request_id_parts=1)
    checkpoint.save(cursor.to_json())
    checkpoint.save_part("request_ids/0", ["r1", "r2"])
    assert SyncCursor.from_json(checkpoint.load()) == cursor
    assert checkpoint.load_part("request_ids/0") == ["r1", "r2"]
    assert set(store.data) == {"drip-sync/events/abc", "drip-sync/events/abc/request_ids/0"}
    checkpoint.clear_part("request_ids/0")
    checkpoint.clear()
    assert checkpoint.load() is None and store.data == {}


def test_cursor_from_garbage_is_none():
    assert SyncCursor.from_json(None) is None
    assert SyncCursor.from_json({"position": 3}) is None


def test_sync_options_validate_policy_and_sleep_limit():
    with pytest.raises(ValueError, match="on_ambiguous"):
        SyncOptions(on_ambiguous="maybe")
    assert SyncOptions(deferrable=True, max_rate_limit_wait=3600).sleep_limit == 15.0
    assert SyncOptions(deferrable=False, max_rate_limit_wait=120).sleep_limit == 120
