"""The sync loop against a fake sender and a fake chunk source: no HTTP, no Airflow.

Each test scripts what "Drip" answers batch by batch and checks what the loop did with it: the
cursor it saved, what it sent again, when it waited, deferred or gave up.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_provider_drip.exceptions import (
    DripAmbiguousOutcomeError,
    DripAmbiguousRangeError,
    DripAPIError,
    DripRateLimitError,
)
from airflow_provider_drip.hooks.responses import BatchResponse
from airflow_provider_drip.resources import RESOURCES, BatchResource
from airflow_provider_drip.sync.checkpoint import MemoryCheckpoint, SyncCursor
from airflow_provider_drip.sync.loop import (
    MAX_RATE_LIMITS_IN_A_ROW,
    MIN_RATE_LIMIT_WAIT,
    BatchSync,
    SyncOptions,
)

# ---------------------------------------------------------------------------- fakes


@dataclass
class FakeChunk:
    start: int
    end: int
    items: list[dict[str, Any]]

    def __len__(self) -> int:
        return len(self.items)

    @property
    def payloads(self) -> list[bytes]:
        return [json.dumps(item).encode() for item in self.items]

    def body(self, resource: BatchResource) -> bytes:
        return json.dumps(resource.envelope(self.items)).encode()

    def records(self) -> list[dict[str, Any]]:
        return list(self.items)


@dataclass
class FakeStats:
    records_read: int = 0
    records_rejected: int = 0
    records_filtered: int = 0
    records_deduplicated: int = 0


@dataclass
class FakeSource:
    """``count`` valid records in chunks of ``batch_size``; positions are record indexes."""

    count: int
    batch_size: int = 10
    on_invalid: str = "skip"
    stats: FakeStats = field(default_factory=FakeStats)
    starts: list[int] = field(default_factory=list)

    @property
    def total_hint(self) -> int | None:
        return self.count

    def check(self) -> Any:
        raise AssertionError("skip mode never runs a preflight pass")

    def chunks(self, start: int = 0, *, background: bool = False) -> Iterator[FakeChunk]:
        self.starts.append(start)
        for first in range(start, self.count, self.batch_size):
            last = min(first + self.batch_size, self.count)
            self.stats.records_read = last
            yield FakeChunk(first, last, [{"email": f"u{i}@x.io"} for i in range(first, last)])


Answer = Callable[[BatchResource, int], BatchResponse]


class FakeSender:
    """Plays a script: one entry per call, an exception to raise or None for "accepted"."""

    def __init__(self, script: list[BaseException | None] | None = None) -> None:
        self.script = list(script or [])
        self.calls: list[tuple[str, int, float]] = []
        self.bodies: list[bytes] = []

    def post_batch(
        self,
        resource: BatchResource,
        records: Any = None,
        *,
        body: bytes | None = None,
        record_count: int | None = None,
        max_rate_limit_wait: float = 0.0,
    ) -> BatchResponse:
        assert body is not None and record_count is not None
        self.calls.append((resource.name, record_count, max_rate_limit_wait))
        self.bodies.append(body)
        step = self.script.pop(0) if self.script else None
        if step is not None:
            raise step
        ids = [f"r{len(self.calls)}-{i}" for i in range(record_count)]
        return BatchResponse(
            status=resource.success_status,
            resource=resource.name,
            record_count=record_count,
            request_ids=ids if resource.returns_request_ids else [],
        )


class Crash(BaseException):
    """Stands in for the process dying mid-request (SIGKILL leaves no chance to clean up)."""


def rate_limited(seconds: float) -> DripRateLimitError:
    return DripRateLimitError(datetime.now(timezone.utc) + timedelta(seconds=seconds))


def ambiguous(resource: str = "events") -> DripAmbiguousOutcomeError:
    return DripAmbiguousOutcomeError(resource, 10, "ReadTimeout")


def make_sync(
    resource: str,
    sender: FakeSender,
    source: FakeSource,
    checkpoint: MemoryCheckpoint,
    sleeps: list[float] | None = None,
    **options: Any,
) -> BatchSync:
    recorded = sleeps if sleeps is not None else []
    return BatchSync(
        hook=sender,
        pipeline=source,
        resource=RESOURCES[resource],
        fingerprint="fp",
        checkpoint=checkpoint,
        options=SyncOptions(**options),
        account_id="123",
        sleep=recorded.append,
    )


@pytest.fixture
def checkpoint(request) -> MemoryCheckpoint:
    store = MemoryCheckpoint(f"test/{request.node.name}")
    yield store
    store.clear()


def saved_cursor(checkpoint: MemoryCheckpoint) -> SyncCursor:
    cursor = SyncCursor.from_json(checkpoint.load())
    assert cursor is not None
    return cursor


# ---------------------------------------------------------------------------- tests


def test_every_record_sent_once_in_full_batches(checkpoint):
    sender = FakeSender()
    summary = make_sync("subscribers", sender, FakeSource(35), checkpoint).run().summary
    assert [count for _, count, _ in sender.calls] == [10, 10, 10, 5]
    assert summary["records_sent"] == 35 and summary["batches_sent"] == 4
    assert list(summary)[-1] == "request_ids"  # ids last: the summary stays readable
    assert checkpoint.load() is None  # a finished sync leaves no cursor behind


def test_v3_summary_keeps_request_ids_per_batch(checkpoint):
    summary = make_sync("order", FakeSender(), FakeSource(25), checkpoint).run().summary
    assert summary["request_id_batches"] == [10, 10, 5]
    assert summary["request_id_count"] == 25 == len(summary["request_ids"])


def test_a_short_429_is_slept_in_the_worker_and_the_same_batch_sent_again(checkpoint):
    sender = FakeSender([None, rate_limited(30)])
    sleeps: list[float] = []
    summary = make_sync(
        "subscribers", sender, FakeSource(30), checkpoint, sleeps, max_rate_limit_wait=120
    ).run()
    assert summary.summary["records_sent"] == 30
    assert len(sleeps) == 1 and 25 < sleeps[0] <= 30
    assert [c[1] for c in sender.calls] == [10, 10, 10, 10]
    assert sender.bodies[1] == sender.bodies[2]  # the refused batch, unchanged


def test_a_zero_retry_after_is_floored_not_a_hot_loop(checkpoint):
    sender = FakeSender([rate_limited(0), rate_limited(-30)])
    sleeps: list[float] = []
    make_sync("subscribers", sender, FakeSource(10), checkpoint, sleeps).run()
    assert sleeps == [MIN_RATE_LIMIT_WAIT, MIN_RATE_LIMIT_WAIT]


def test_429_forever_gives_up_after_the_cap_with_the_cursor_kept(checkpoint):
    sender = FakeSender([None] + [rate_limited(5)] * 100)
    sleeps: list[float] = []
    sync = make_sync(
        "subscribers", sender, FakeSource(30), checkpoint, sleeps, max_rate_limit_wait=3600
    )
    with pytest.raises(DripRateLimitError, match="429 13 times in a row"):
        sync.run()
    assert len(sender.calls) == 1 + MAX_RATE_LIMITS_IN_A_ROW + 1
    cursor = saved_cursor(checkpoint)
    assert cursor.position == 10 and cursor.records_sent == 10


def test_max_rate_limit_wait_bounds_the_total_not_each_wait(checkpoint):
    sender = FakeSender([rate_limited(8)] * 10)
    sleeps: list[float] = []
    sync = make_sync(
        "subscribers", sender, FakeSource(10), checkpoint, sleeps, max_rate_limit_wait=20
    )
    with pytest.raises(DripRateLimitError, match="max_rate_limit_wait=20s"):
        sync.run()
    assert sum(sleeps) <= 20 and len(sleeps) == 2
    # the hook never sleeps on a 429 itself: every wait is the loop's, cursor saved first
    assert {c[2] for c in sender.calls} == {0.0}


def test_a_kill_during_a_rate_limit_wait_is_not_an_unknown_outcome(checkpoint):
    class KilledWhileSleeping(BaseException):
        pass

    def sleep(seconds: float) -> None:
        raise KilledWhileSleeping

    source = FakeSource(30)
    sync = BatchSync(
        hook=FakeSender([None, rate_limited(60)]),
        pipeline=source,
        resource=RESOURCES["events"],
        fingerprint="fp",
        checkpoint=checkpoint,
        options=SyncOptions(max_rate_limit_wait=120),
        sleep=sleep,
    )
    with pytest.raises(KilledWhileSleeping):
        sync.run()
    cursor = saved_cursor(checkpoint)
    assert cursor.position == 10 and cursor.in_flight is None
    resumed = FakeSender()
    make_sync("events", resumed, source, checkpoint).run()
    assert [c[1] for c in resumed.calls] == [10, 10]


def test_deferrable_defers_a_long_wait_and_resumes_at_the_cursor(checkpoint):
    source = FakeSource(30)
    sender = FakeSender([None, rate_limited(3600)])
    first = make_sync("events", sender, source, checkpoint, deferrable=True).run()
    assert first.summary is None and first.wait_until is not None
    assert saved_cursor(checkpoint).position == 10
    second = make_sync("events", sender, source, checkpoint, deferrable=True).run()
    assert second.summary["records_sent"] == 30 and second.summary["deferrals"] == 1
    assert source.starts == [0, 10]


def test_a_crash_mid_request_is_an_unknown_outcome_on_the_next_try(checkpoint):
    """The SIGKILL case of issue 14: the next try must not resend the in-flight events."""
    source = FakeSource(40)
    sender = FakeSender([None, None, None, Crash()])
    with pytest.raises(Crash):
        make_sync("events", sender, source, checkpoint).run()
    cursor = saved_cursor(checkpoint)
    assert cursor.position == 30 and cursor.in_flight == {"start": 30, "end": 40, "records": 10}

    with pytest.raises(DripAmbiguousRangeError, match="records 30-39"):
        make_sync("events", FakeSender(), source, checkpoint).run()
    assert saved_cursor(checkpoint).pending_ambiguous["start"] == 30

    resumed = FakeSender()
    summary = make_sync("events", resumed, source, checkpoint, on_ambiguous="skip").run().summary
    assert resumed.calls == []  # records 30-39 are not sent again
    assert summary["ambiguous_ranges"][0]["action"] == "assumed_delivered"


def test_a_crash_mid_request_with_resend_policy_sends_the_range_again(checkpoint):
    source = FakeSource(20)
    with pytest.raises(Crash):
        make_sync("events", FakeSender([None, Crash()]), source, checkpoint).run()
    resumed = FakeSender()
    summary = make_sync("events", resumed, source, checkpoint, on_ambiguous="resend").run().summary
    assert [c[1] for c in resumed.calls] == [10]
    assert summary["records_sent"] == 20
    assert summary["ambiguous_ranges"][0]["action"] == "resent"


def test_upserts_need_no_in_flight_marker(checkpoint):
    source = FakeSource(20)
    with pytest.raises(Crash):
        make_sync("subscribers", FakeSender([None, Crash()]), source, checkpoint).run()
    assert saved_cursor(checkpoint).in_flight is None
    resumed = FakeSender()
    make_sync("subscribers", resumed, source, checkpoint).run()
    assert [c[1] for c in resumed.calls] == [10]  # resent, harmless for an upsert


@pytest.mark.parametrize(
    ("policy", "calls", "sent"),
    [("resend", 3, 20), ("skip", 2, 10)],
)
def test_ambiguous_batch_follows_the_policy(checkpoint, policy, calls, sent):
    sender = FakeSender([ambiguous()])
    summary = (
        make_sync("events", sender, FakeSource(20), checkpoint, on_ambiguous=policy).run().summary
    )
    assert len(sender.calls) == calls and summary["records_sent"] == sent
    assert len(summary["ambiguous_ranges"]) == 1


def test_ambiguous_batch_with_fail_policy_stops_and_names_the_range(checkpoint):
    with pytest.raises(DripAmbiguousRangeError, match="records 0-9"):
        make_sync("events", FakeSender([ambiguous()]), FakeSource(20), checkpoint).run()
    cursor = saved_cursor(checkpoint)
    assert cursor.position == 0 and cursor.in_flight is None and cursor.pending_ambiguous


def test_a_refused_batch_keeps_the_cursor_at_the_last_accepted_one(checkpoint):
    sender = FakeSender([None, DripAPIError(422, method="POST", path="/v2/123/events/batches")])
    with pytest.raises(DripAPIError, match="records 10-19"):
        make_sync("events", sender, FakeSource(30), checkpoint).run()
    cursor = saved_cursor(checkpoint)
    assert cursor.position == 10 and cursor.in_flight is None


def test_events_checkpoint_after_every_batch_upserts_on_an_interval(checkpoint, monkeypatch):
    saves: list[int] = []
    original = MemoryCheckpoint.save

    def counting_save(self, value):
        saves.append(value["position"])
        original(self, value)

    monkeypatch.setattr(MemoryCheckpoint, "save", counting_save)
    make_sync("events", FakeSender(), FakeSource(30), checkpoint).run()
    events_saves = list(saves)
    saves.clear()
    make_sync(
        "subscribers", FakeSender(), FakeSource(30), checkpoint, checkpoint_interval=3600
    ).run()
    # events: marker before and acceptance after each of the 3 batches, plus the start
    assert events_saves.count(10) >= 2 and events_saves.count(20) >= 2
    # upserts: only the start (interval not reached; the end clears the cursor)
    assert saves == [0]


def test_options_take_timedelta_or_seconds():
    options = SyncOptions(max_rate_limit_wait=timedelta(minutes=10), defer_min_wait=30)
    assert options.max_rate_limit_wait == 600.0 and options.defer_min_wait == 30.0
    with pytest.raises(ValueError, match="max_rate_limit_wait"):
        SyncOptions(max_rate_limit_wait=-1)
    with pytest.raises(TypeError, match="defer_min_wait"):
        SyncOptions(defer_min_wait="soon")


def test_resend_policy_that_runs_out_says_how_often_it_resent(checkpoint):
    sender = FakeSender([ambiguous()] * 10)
    sync = make_sync("events", sender, FakeSource(10), checkpoint, on_ambiguous="resend")
    with pytest.raises(DripAmbiguousRangeError, match=r"resent 3 time\(s\)") as raised:
        sync.run()
    assert "not resent" not in str(raised.value)
    assert len(sender.calls) == 4


class FakeChanges:
    """Stands in for ChangeTracker: records accepted chunks; commit fails when told to."""

    send_all = False
    location = "memory://state"

    def __init__(self, fail_on_commit: int | None = None) -> None:
        self.commits = 0
        self.accepted_chunks: list[tuple[int, int]] = []
        self.fail_on_commit = fail_on_commit

    def accepted(self, chunk):
        from airflow_provider_drip.sync.changes import ChangeCounts

        self.accepted_chunks.append((chunk.start, chunk.end))
        return ChangeCounts(new=len(chunk))

    def commit(self) -> None:
        from airflow_provider_drip.state import SyncStateConflictError

        self.commits += 1
        if self.commits == self.fail_on_commit:
            raise SyncStateConflictError("another run committed", "memory://state")


def test_changed_mode_commits_the_state_for_every_accepted_event_batch(checkpoint):
    changes = FakeChanges()
    sync = make_sync("events", FakeSender(), FakeSource(30), checkpoint)
    sync.changes = changes
    summary = sync.run().summary
    assert changes.accepted_chunks == [(0, 10), (10, 20), (20, 30)]
    assert summary["records_new"] == 30 and summary["sync_mode"] == "changed"
    # a commit precedes every cursor save (start, 3 markers, 3 acceptances) and the end
    assert changes.commits == 8


def test_a_state_conflict_still_saves_the_cursor_so_retries_do_not_resend(checkpoint):
    from airflow_provider_drip.state import SyncStateConflictError

    changes = FakeChanges(fail_on_commit=4)  # the commit after the first accepted batch
    sync = make_sync("events", FakeSender(), FakeSource(30), checkpoint)
    sync.changes = changes
    with pytest.raises(SyncStateConflictError):
        sync.run()
    cursor = saved_cursor(checkpoint)
    assert cursor.position == 10 and cursor.in_flight is None


def test_a_2xx_without_the_documented_body_is_not_counted_and_names_the_range(checkpoint):
    from airflow_provider_drip.exceptions import DripUnexpectedResponseError

    odd = DripUnexpectedResponseError(200, "the body is HTML, not JSON", method="POST", path="/p")
    with pytest.raises(DripUnexpectedResponseError, match="records 10-19 of the input"):
        make_sync("subscribers", FakeSender([None, odd]), FakeSource(30), checkpoint).run()
    cursor = saved_cursor(checkpoint)
    assert cursor.position == 10 and cursor.records_sent == 10
