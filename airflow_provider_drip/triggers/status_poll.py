"""Pure logic of waiting on Drip request ids, shared by the sync sensor and the async trigger.

Both paths fetch statuses differently (a thread pool over the hook, or httpx on the triggerer's
event loop) but decide everything here: which ids still need a check, when a polling round can
stop early, how results are tallied, and the exact summary and failure text. One implementation
means a deferrable sensor fails with the same message as a poking one.

Cost model: Drip's status endpoint takes one id per request and non-batch endpoints allow 3,600
requests per hour per account, so every check counts. Ids that reached a terminal status are never
checked again, and a round stops after ``probe_window`` consecutive ids that are still waiting:
Drip queues requests in order, so the ids behind them are very likely waiting too.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_drip.exceptions import DripAPIError
from airflow_provider_drip.hooks.responses import RequestStatus
from airflow_provider_drip.resources import DEFAULT_REQUEST_STATUS_PATH

MAX_FAILURES_IN_SUMMARY = 100
"""Failed ids listed (with errors) in the summary / trigger event; the count is always exact."""
MAX_FAILURES_IN_MESSAGE = 20
"""Failed ids spelled out in the exception message; the rest are counted."""
PROGRESS_VERSION = 1


@dataclass
class StatusTracker:
    """What is known about a set of request ids, in their original order."""

    request_ids: list[str]
    already_completed: int = 0
    """Completed ids checked before this tracker (by an earlier poke), not in ``request_ids``."""
    completed: set[str] = field(default_factory=set)
    failed: dict[str, list[str]] = field(default_factory=dict)
    last_seen: dict[str, str] = field(default_factory=dict)
    """Latest non-terminal status of each pending id that was checked."""
    not_found: list[str] = field(default_factory=list)
    checks: int = 0
    """Status requests answered (for progress logs and measurements)."""

    def is_terminal(self, request_id: str) -> bool:
        return request_id in self.completed or request_id in self.failed

    def pending_ids(self) -> list[str]:
        """Ids not yet seen in a terminal status, in submission order."""
        return [i for i in self.request_ids if i not in self.completed and i not in self.failed]

    def record(self, status: RequestStatus, request_id: str | None = None) -> None:
        """Record one answer; ``request_id`` is the id asked for (Drip may echo another form)."""
        rid = request_id or status.request_id
        self.checks += 1
        if status.status == "completed":
            self.completed.add(rid)
            self.last_seen.pop(rid, None)
        elif status.status == "failed":
            self.failed[rid] = [str(e) for e in status.errors]
            self.last_seen.pop(rid, None)
        else:
            self.last_seen[rid] = status.status

    def record_results(
        self, request_ids: Sequence[str], results: Sequence[RequestStatus | BaseException]
    ) -> BaseException | None:
        """Record a chunk of answers; 404s become ``not_found``; return the first other error.

        Answers that did arrive are always kept, so an error mid-chunk loses no progress.
        """
        first_error: BaseException | None = None
        for rid, result in zip(request_ids, results, strict=True):
            if isinstance(result, RequestStatus):
                self.record(result, rid)
            elif isinstance(result, DripAPIError) and result.status == 404:
                self.checks += 1
                self.not_found.append(rid)
            elif first_error is None:
                first_error = result
        return first_error

    @property
    def done(self) -> bool:
        """Every id completed."""
        return not self.failed and len(self.completed) == len(self.request_ids)

    def summary(self) -> dict[str, Any]:
        """The XCom / trigger-event summary: counts by status and failed ids with errors."""
        total = len(self.request_ids) + self.already_completed
        completed = len(self.completed) + self.already_completed
        failed = len(self.failed)
        queued = sum(1 for s in self.last_seen.values() if s == "queued")
        processing = sum(1 for s in self.last_seen.values() if s == "processing")
        other = len(self.last_seen) - queued - processing
        pending = total - completed - failed
        failed_requests = [
            {"request_id": rid, "errors": errors}
            for rid, errors in list(self.failed.items())[:MAX_FAILURES_IN_SUMMARY]
        ]
        return {
            "total": total,
            "completed": completed,
            "failed": failed,
            "pending": pending,
            "queued": queued,
            "processing": processing,
            "other": other,
            "unchecked": pending - queued - processing - other,
            "failed_requests": failed_requests,
        }


def empty_summary() -> dict[str, Any]:
    """The summary of waiting on no ids at all."""
    return StatusTracker(request_ids=[]).summary()


class PollRound:
    """Hands out the pending ids of one round in chunks; stops early behind a waiting stretch.

    Callers check each chunk concurrently, then report every answer in order with ``observe``.
    With ``probe_window=None`` every pending id is checked every round.
    """

    def __init__(
        self,
        pending: Sequence[str],
        chunk_size: int,
        probe_window: int | None,
        limit: int | None = None,
    ) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        if probe_window is not None and probe_window < 1:
            raise ValueError("probe_window must be at least 1 or None")
        self._pending = list(pending)
        # never check more ids at once than the waiting run that ends the round
        self._chunk_size = min(chunk_size, probe_window or chunk_size)
        self._window = probe_window
        self._next = 0
        self._waiting_run = 0
        self._left = limit
        """Ids this round may still hand out (the request budget); None: no cap."""

    def next_chunk(self) -> list[str]:
        """The next ids to check, or ``[]`` when the round is over."""
        if self._window is not None and self._waiting_run >= self._window:
            return []
        size = self._chunk_size if self._left is None else min(self._chunk_size, self._left)
        chunk = self._pending[self._next : self._next + size]
        self._next += len(chunk)
        if self._left is not None:
            self._left -= len(chunk)
        return chunk

    def observe(self, terminal: bool) -> None:
        """Report one answer, in the order the ids were handed out."""
        self._waiting_run = 0 if terminal else self._waiting_run + 1

    def observe_results(self, results: Iterable[RequestStatus | BaseException]) -> None:
        for result in results:
            self.observe(isinstance(result, RequestStatus) and result.is_terminal)

    @property
    def stopped_early(self) -> bool:
        return self._next < len(self._pending)


def progress_line(summary: dict[str, Any]) -> str:
    """One log line with the counts, e.g. ``120/1000 completed, 0 failed, 880 pending (...)``."""
    return (
        f"{summary['completed']}/{summary['total']} completed, {summary['failed']} failed, "
        f"{summary['pending']} pending (queued {summary['queued']}, processing "
        f"{summary['processing']}, not yet checked {summary['unchecked']}"
        + (f", other status {summary['other']}" if summary.get("other") else "")
        + ")"
    )


def failure_message(summary: dict[str, Any]) -> str:
    """The exception text when Drip failed any request; identical in sync and deferrable mode."""
    failed = summary["failed"]
    lines = [
        f"Drip failed to process {failed} of {summary['total']} request(s) "
        f"(completed {summary['completed']}, pending {summary['pending']}). "
        "Failed request ids and Drip's errors:"
    ]
    listed = summary["failed_requests"][:MAX_FAILURES_IN_MESSAGE]
    for entry in listed:
        errors = "; ".join(entry["errors"]) or "no error details from Drip"
        lines.append(f"  - {entry['request_id']}: {errors}")
    if failed > len(listed):
        lines.append(f"  ... and {failed - len(listed)} more failed request(s)")
    return "\n".join(lines)


def not_found_message(
    not_found: Sequence[str],
    *,
    any_found: bool,
    conn_id: str,
    account_id: str,
    status_path: str,
) -> str:
    """The error for 404s: unknown ids, or (when nothing was found) a status path that is wrong."""
    sample = ", ".join(list(not_found)[:5]) + (" ..." if len(not_found) > 5 else "")
    head = (
        f"Drip's request status endpoint answered 404 Not Found for {len(not_found)} request "
        f"id(s) ({sample}) at GET {status_path} on connection {conn_id!r}."
    )
    configure = (
        "Drip has not published its request status endpoint: this provider assumes "
        f"{DEFAULT_REQUEST_STATUS_PATH}. If Drip serves it elsewhere, set the path template in "
        f"the connection extra 'request_status_path' (placeholders {{account_id}} and "
        f'{{request_id}}), e.g. {{"request_status_path": "{DEFAULT_REQUEST_STATUS_PATH}"}}.'
    )
    if any_found:
        return (
            f"{head} Other ids were found at that path, so these are unknown to Drip account "
            f"{account_id}: check they come from a batch sent with this connection. {configure}"
        )
    return (
        f"{head} Either the ids are unknown to Drip account {account_id} or the status "
        f"endpoint is not available at that path. {configure}"
    )


def fingerprint(request_ids: Sequence[str]) -> str:
    """Identify an id list, so saved progress is never applied to different ids."""
    return hashlib.sha256("\n".join(request_ids).encode()).hexdigest()[:32]


def encode_progress(request_ids: Sequence[str], completed: Iterable[str]) -> dict[str, Any]:
    """Completed ids as a compressed bitmap over positions: ~1 bit per id, JSON-safe.

    Small enough for ``task_state_store`` (64 KB by default) even with hundreds of thousands of
    ids, where a list of uuids would be 40 bytes each.
    """
    done = set(completed)
    bits = bytearray((len(request_ids) + 7) // 8)
    for index, rid in enumerate(request_ids):
        if rid in done:
            bits[index >> 3] |= 1 << (index & 7)
    return {
        "version": PROGRESS_VERSION,
        "fingerprint": fingerprint(request_ids),
        "total": len(request_ids),
        "completed_bitmap": base64.b64encode(zlib.compress(bytes(bits), 9)).decode(),
    }


def decode_progress(request_ids: Sequence[str], stored: Any) -> set[str]:
    """Completed ids from ``encode_progress`` output; empty when it is for other ids or garbled."""
    if not isinstance(stored, dict) or stored.get("version") != PROGRESS_VERSION:
        return set()
    if stored.get("fingerprint") != fingerprint(request_ids):
        return set()
    if stored.get("total") != len(request_ids):
        return set()
    try:
        bits = zlib.decompress(base64.b64decode(stored["completed_bitmap"]))
    except (KeyError, TypeError, ValueError, zlib.error):
        return set()
    if len(bits) != (len(request_ids) + 7) // 8:
        return set()
    return {rid for index, rid in enumerate(request_ids) if bits[index >> 3] >> (index & 7) & 1}


def terminal_error_message(
    tracker: StatusTracker, *, conn_id: str, account_id: str, status_path: str
) -> str | None:
    """Why waiting must stop for good (failed ids and/or 404s), or None to keep waiting."""
    summary = tracker.summary()
    messages = []
    if tracker.failed:
        messages.append(failure_message(summary))
    if tracker.not_found:
        messages.append(
            not_found_message(
                tracker.not_found,
                any_found=bool(summary["completed"] or tracker.last_seen),
                conn_id=conn_id,
                account_id=account_id,
                status_path=status_path,
            )
        )
    return "\n".join(messages) or None


# ---------------------------------------------------------------------------- sample mode

VERIFY_MODES = ("all", "sample")

SAMPLE_EVERY = 25
"""Sample mode checks every 25th id of a batch (4%) besides the batch's last id."""
CHECK_ALL_UP_TO = 100
"""At or below this many ids, sample mode checks them all: a full check costs little."""
DEFAULT_MAX_REQUESTS_PER_HOUR = 600
"""The sensor's default share of Drip's 3,600 non-batch requests per hour per account (a sixth),
so the account's other API users are not starved while a big sync is confirmed."""


def sample_batches(batches: Sequence[Sequence[str]]) -> list[list[str]]:
    """The ids sample mode checks, per batch, each batch's last id last.

    Drip processes a batch in order, so the last id reaching a terminal status proves the batch
    was processed; a deterministic spread (every ``SAMPLE_EVERY``-th id) looks for failures
    inside it. Deterministic, so a reschedule or retry checks the same ids.
    """
    if sum(len(b) for b in batches) <= CHECK_ALL_UP_TO:
        return [list(b) for b in batches if b]
    sampled = []
    offset = SAMPLE_EVERY // 2
    for batch in batches:
        if not batch:
            continue
        spread = [rid for i, rid in enumerate(batch[:-1]) if i % SAMPLE_EVERY == offset]
        sampled.append([*spread, batch[-1]])
    return sampled


class SampleRound:
    """A polling round in sample mode: batch by batch, in order.

    For the first batch not yet proven, its last id is checked alone; if it is still waiting the
    round ends (the batches behind it are waiting too, and a check costs budget). Once it is
    terminal, the batch's other sampled ids are checked, then the next batch. Same interface as
    ``PollRound``; ``limit`` caps the ids handed out in this round (the request budget).
    """

    def __init__(
        self,
        batches: Sequence[Sequence[str]],
        is_terminal: Callable[[str], bool],
        chunk_size: int,
        limit: int | None = None,
    ) -> None:
        self._batches = [list(b) for b in batches if b]
        self._is_terminal = is_terminal
        self._chunk_size = max(1, chunk_size)
        self._left = limit
        self._index = 0
        self._queue: list[str] = []
        self._asked_last = False

    def next_chunk(self) -> list[str]:
        while self._left is None or self._left > 0:
            if self._queue:
                return self._take(self._queue)
            if self._index >= len(self._batches):
                return []
            batch = self._batches[self._index]
            if not self._is_terminal(batch[-1]):
                if self._asked_last:  # checked this round and still waiting: stop here
                    return []
                self._asked_last = True
                return self._take([batch[-1]])
            # the last id is terminal, so the batch was processed: check its sample once
            self._queue = [rid for rid in batch[:-1] if not self._is_terminal(rid)]
            self._index += 1
            self._asked_last = False
        return []

    def _take(self, ids: list[str]) -> list[str]:
        size = self._chunk_size if self._left is None else min(self._chunk_size, self._left)
        chunk, ids[:] = ids[:size], ids[size:]
        if self._left is not None:
            self._left -= len(chunk)
        return chunk

    def observe_results(self, results: Iterable[RequestStatus | BaseException]) -> None:
        """Nothing to learn beyond what the tracker records (``is_terminal`` reads it)."""


def round_allowance(max_requests_per_hour: float | None, seconds: float) -> int | None:
    """Status checks one round may make: the budget's share of ``seconds`` (at least one).

    Every mode polls in rounds ``poke_interval`` apart, so pacing each round to its share of the
    hourly budget paces poke, reschedule and deferrable waits alike.
    """
    if not max_requests_per_hour:
        return None
    return max(1, int(max_requests_per_hour * max(seconds, 0.0) / 3600.0))


def make_round(
    tracker: StatusTracker,
    *,
    sample: Sequence[Sequence[str]] | None,
    chunk_size: int,
    probe_window: int | None,
    limit: int | None,
) -> PollRound | SampleRound:
    """The round for this mode: every pending id in order, or sample mode's batch walk."""
    if sample is None:
        return PollRound(tracker.pending_ids(), chunk_size, probe_window, limit)
    return SampleRound(sample, tracker.is_terminal, chunk_size, limit)


def verification_summary(total_ids: int, checked_ids: int, mode: str) -> dict[str, Any]:
    """What the sensor's summary says about coverage: how many ids exist, how many were
    checked, and that the rest were not verified one by one."""
    unverified = total_ids - checked_ids
    return {
        "verify": mode,
        "ids_total": total_ids,
        "ids_checked": checked_ids,
        "ids_unverified": unverified,
        "verification": (
            "every id checked"
            if unverified == 0
            else f"{unverified:,} ids not checked one by one: each batch's last id completing "
            "proves Drip processed the batch, but a failure of an unchecked record in it would "
            "go unseen"
        ),
    }
