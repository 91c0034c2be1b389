"""Pure status-polling logic: tally, early-stopping rounds, messages, saved progress."""

from __future__ import annotations

import pytest

from airflow_provider_drip.exceptions import DripAPIError, DripErrorDetail, DripServerError
from airflow_provider_drip.hooks.responses import RequestStatus
from airflow_provider_drip.triggers.status_poll import (
    MAX_FAILURES_IN_MESSAGE,
    MAX_FAILURES_IN_SUMMARY,
    PollRound,
    StatusTracker,
    decode_progress,
    empty_summary,
    encode_progress,
    failure_message,
    not_found_message,
    progress_line,
)


def status(rid: str, state: str, *messages: str) -> RequestStatus:
    return RequestStatus(rid, state, [DripErrorDetail(message=m) for m in messages])


def test_summary_counts_every_status_and_adds_up():
    tracker = StatusTracker(["a", "b", "c", "d", "e", "f"], already_completed=4)
    tracker.record(status("a", "completed"))
    tracker.record(status("b", "failed", "Email is invalid"))
    tracker.record(status("c", "queued"))
    tracker.record(status("d", "processing"))
    tracker.record(status("e", "paused"))
    summary = tracker.summary()
    assert summary == {
        "total": 10,
        "completed": 5,
        "failed": 1,
        "pending": 4,
        "queued": 1,
        "processing": 1,
        "other": 1,
        "unchecked": 1,
        "failed_requests": [{"request_id": "b", "errors": ["Email is invalid"]}],
    }
    assert tracker.pending_ids() == ["c", "d", "e", "f"]
    assert not tracker.done


def test_status_moving_to_terminal_leaves_last_seen():
    tracker = StatusTracker(["a"])
    tracker.record(status("a", "processing"))
    assert tracker.summary()["processing"] == 1
    tracker.record(status("a", "completed"))
    assert tracker.done
    assert tracker.summary()["processing"] == 0
    assert tracker.pending_ids() == []


def test_record_results_keeps_answers_and_separates_404_from_other_errors():
    tracker = StatusTracker(["a", "b", "c", "d"])
    boom = DripServerError("502 after retries")
    error = tracker.record_results(
        ["a", "b", "c", "d"],
        [status("A-echo", "completed"), DripAPIError(404), boom, status("d", "queued")],
    )
    assert error is boom
    assert tracker.completed == {"a"}  # recorded under the id asked for
    assert tracker.not_found == ["b"]
    assert tracker.last_seen == {"d": "queued"}
    assert tracker.checks == 3


def test_empty_tracker_is_done_with_zero_summary():
    assert StatusTracker([]).done
    summary = empty_summary()
    assert summary["total"] == summary["completed"] == summary["pending"] == 0
    assert summary["failed_requests"] == []


def test_poll_round_stops_after_a_run_of_waiting_ids():
    ids = [f"r{i}" for i in range(100)]
    rnd = PollRound(ids, chunk_size=4, probe_window=6)
    seen: list[str] = []
    states = {f"r{i}": ("completed" if i < 10 else "queued") for i in range(100)}
    while chunk := rnd.next_chunk():
        seen.extend(chunk)
        rnd.observe_results([status(r, states[r]) for r in chunk])
    # 10 terminal, then 6 waiting in a row ends the round at the next chunk boundary
    assert seen == ids[:16]
    assert rnd.stopped_early


def test_poll_round_terminal_answer_resets_the_waiting_run():
    ids = ["q1", "q2", "c1", "q3", "q4", "c2"]
    rnd = PollRound(ids, chunk_size=1, probe_window=3)
    seen = []
    while chunk := rnd.next_chunk():
        seen.extend(chunk)
        rnd.observe(chunk[0].startswith("c"))
    assert seen == ids
    assert not rnd.stopped_early


def test_poll_round_chunks_are_never_larger_than_the_window():
    rnd = PollRound([f"r{i}" for i in range(20)], chunk_size=8, probe_window=3)
    assert rnd.next_chunk() == ["r0", "r1", "r2"]
    rnd.observe_results([status("r", "queued")] * 3)
    assert rnd.next_chunk() == []


def test_poll_round_without_window_checks_everything_and_counts_errors_as_waiting():
    rnd = PollRound(["a", "b", "c"], chunk_size=2, probe_window=None)
    assert rnd.next_chunk() == ["a", "b"]
    rnd.observe_results([RuntimeError("x"), status("b", "queued")])
    assert rnd.next_chunk() == ["c"]
    assert rnd.next_chunk() == []


@pytest.mark.parametrize(("chunk", "window"), [(0, 1), (1, 0)])
def test_poll_round_rejects_bad_sizes(chunk, window):
    with pytest.raises(ValueError):
        PollRound(["a"], chunk_size=chunk, probe_window=window)


def test_failure_message_names_ids_and_errors():
    tracker = StatusTracker(["ok", "bad1", "bad2", "wait"])
    tracker.record(status("ok", "completed"))
    tracker.record(status("bad1", "failed", "Email is invalid", "Price must be positive"))
    tracker.record(status("bad2", "failed"))
    message = failure_message(tracker.summary())
    assert message == (
        "Drip failed to process 2 of 4 request(s) (completed 1, pending 1). "
        "Failed request ids and Drip's errors:\n"
        "  - bad1: Email is invalid; Price must be positive\n"
        "  - bad2: no error details from Drip"
    )


def test_failure_message_and_summary_are_bounded_for_many_failures():
    ids = [f"f{i}" for i in range(250)]
    tracker = StatusTracker(ids)
    for rid in ids:
        tracker.record(status(rid, "failed", "bad"))
    summary = tracker.summary()
    assert summary["failed"] == 250
    assert len(summary["failed_requests"]) == MAX_FAILURES_IN_SUMMARY
    message = failure_message(summary)
    assert message.count("\n  - ") == MAX_FAILURES_IN_MESSAGE
    assert message.endswith(f"... and {250 - MAX_FAILURES_IN_MESSAGE} more failed request(s)")


def test_not_found_message_points_at_the_connection_extra():
    args = dict(
        conn_id="drip_default", account_id="123", status_path="/v3/{account_id}/x/{request_id}"
    )
    ambiguous = not_found_message(["a", "b"], any_found=False, **args)
    assert "404 Not Found for 2 request id(s) (a, b)" in ambiguous
    assert "'request_status_path'" in ambiguous
    assert "not available at that path" in ambiguous
    unknown = not_found_message([f"x{i}" for i in range(7)], any_found=True, **args)
    assert "(x0, x1, x2, x3, x4 ...)" in unknown
    assert "unknown to Drip account 123" in unknown


def test_progress_line():
    tracker = StatusTracker(["a", "b", "c"])
    tracker.record(status("a", "completed"))
    tracker.record(status("b", "queued"))
    assert progress_line(tracker.summary()) == (
        "1/3 completed, 0 failed, 2 pending (queued 1, processing 0, not yet checked 1)"
    )


def test_progress_round_trips_and_is_compact():
    ids = [f"990c99a7-5cba-42e8-8f36-{i:012d}" for i in range(200_000)]
    done = set(ids[:150_000:3]) | {ids[-1]}
    stored = encode_progress(ids, done)
    assert decode_progress(ids, stored) == done
    assert len(stored["completed_bitmap"]) < 64_000  # fits task_state_store's default limit


@pytest.mark.parametrize(
    "stored",
    [
        None,
        "junk",
        {"version": 99},
        {"version": 1, "fingerprint": "nope", "total": 3, "completed_bitmap": ""},
    ],
)
def test_progress_for_other_ids_or_garbage_is_ignored(stored):
    assert decode_progress(["a", "b", "c"], stored) == set()


def test_progress_for_a_different_id_list_is_ignored():
    stored = encode_progress(["a", "b", "c"], {"a"})
    assert decode_progress(["a", "b", "d"], stored) == set()
    assert decode_progress(["a", "b", "c"], stored) == {"a"}
    broken = dict(stored, completed_bitmap="!!!")
    assert decode_progress(["a", "b", "c"], broken) == set()


# ---------------------------------------------------------------------------- sample mode


def test_sample_of_20_batches_of_1000_checks_every_last_id_and_4_percent():
    from airflow_provider_drip.triggers.status_poll import sample_batches

    batches = [[f"b{b}-{i}" for i in range(1000)] for b in range(20)]
    sample = sample_batches(batches)
    assert [s[-1] for s in sample] == [b[-1] for b in batches]
    assert sum(len(s) for s in sample) == 20 * 41
    assert sample == sample_batches(batches)  # deterministic


def test_small_sets_are_checked_in_full_even_in_sample_mode():
    from airflow_provider_drip.triggers.status_poll import sample_batches

    batches = [["a", "b", "c"], ["d"]]
    assert sample_batches(batches) == batches


def test_sample_round_waits_on_a_batch_last_id_before_its_others():
    from airflow_provider_drip.triggers.status_poll import SampleRound

    done: set[str] = set()
    batches = [["a1", "a2", "a-last"], ["b1", "b-last"]]
    rnd = SampleRound(batches, done.__contains__, chunk_size=8)
    assert rnd.next_chunk() == ["a-last"]
    assert rnd.next_chunk() == []  # still waiting: the round ends, costing one check
    done.add("a-last")
    rnd = SampleRound(batches, done.__contains__, chunk_size=8)
    assert rnd.next_chunk() == ["a1", "a2"]
    assert rnd.next_chunk() == ["b-last"]
    assert rnd.next_chunk() == []


def test_rounds_stop_at_the_request_budget():
    from airflow_provider_drip.triggers.status_poll import (
        PollRound,
        SampleRound,
        round_allowance,
    )

    assert round_allowance(600, 60) == 10 and round_allowance(600, 0.05) == 1
    assert round_allowance(None, 60) is None
    rnd = PollRound([str(i) for i in range(50)], chunk_size=8, probe_window=None, limit=10)
    assert [len(c) for c in iter(rnd.next_chunk, [])] == [8, 2]
    done = {"x-last"}
    sample = SampleRound([["x1", "x2", "x3", "x-last"]], done.__contains__, 8, limit=2)
    assert sample.next_chunk() == ["x1", "x2"] and sample.next_chunk() == []
