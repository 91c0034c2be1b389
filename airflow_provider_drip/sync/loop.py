"""The batch-sync loop both operators share.

source → records → map → validate → chunk → skip to cursor → hook.post_batch → checkpoint →
summary. The loop knows nothing about Airflow's deferral machinery: when Drip wants a wait longer
than the worker should sleep, ``run()`` saves the cursor and returns ``wait_until``; the operator
defers and calls ``run()`` again, which resumes from the saved cursor.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_drip.durations import Duration, to_seconds
from airflow_provider_drip.exceptions import (
    DripAmbiguousOutcomeError,
    DripAmbiguousRangeError,
    DripAPIError,
    DripError,
    DripRateLimitError,
    DripUnexpectedResponseError,
)
from airflow_provider_drip.hooks.responses import BatchResponse
from airflow_provider_drip.resources import BatchResource
from airflow_provider_drip.sync.changes import ChangeTracker
from airflow_provider_drip.sync.checkpoint import CheckpointStore, SyncCursor
from airflow_provider_drip.sync.ports import BatchSender, Chunk, ChunkSource, Logger
from airflow_provider_drip.sync.prefetch import Prefetcher
from airflow_provider_drip.sync.progress import ProgressTracker, format_duration

ON_AMBIGUOUS_POLICIES = ("fail", "resend", "skip")
"""What to do when a non-idempotent batch (events, shopper activity) was sent and no answer came:
``fail`` stops and names the record range (default: nothing duplicated, nothing assumed);
``resend`` sends it again (at-least-once: the range may be duplicated in Drip);
``skip`` carries on after it (at-most-once: the range may be missing in Drip).
Every range is logged and listed in the summary's ``ambiguous_ranges``."""

DEFAULT_MAX_RATE_LIMIT_WAIT = 3900.0
"""Longest wait (s) a non-deferrable task sleeps in the worker: Drip's hour window plus margin."""

DEFER_MIN_WAIT = 15.0
"""In deferrable mode, waits up to this many seconds are slept in the worker: a deferral costs a
round trip through the triggerer and a re-parse, which is not worth it for a few seconds."""

MAX_AMBIGUOUS_RESENDS = 3
SAMPLE_RECORDS = 3

MIN_RATE_LIMIT_WAIT = 5.0
"""Floor under every rate-limit wait, whatever the server said: a ``Retry-After: 0`` (or a past
date) must not turn into a stream of requests, each of which costs budget or goodwill."""

MAX_RATE_LIMITS_IN_A_ROW = 12
"""429 answers without an accepted batch in between, across waits and deferrals, before the sync
gives up: a server that keeps refusing is not going to be waited out by asking again."""

IN_FLIGHT_CAUSE = (
    "the task stopped (crash, kill or timeout) while this batch was in flight, so nobody saw "
    "Drip's answer"
)


@dataclass(frozen=True)
class SyncOptions:
    """How the loop behaves; durations take a ``timedelta`` or seconds (stored as seconds)."""

    max_rate_limit_wait: Duration = DEFAULT_MAX_RATE_LIMIT_WAIT
    """Longest total wait, without an accepted batch in between, slept in the worker."""
    deferrable: bool = False
    on_ambiguous: str = "fail"
    dry_run: bool = False
    prefetch_depth: int = 2
    defer_min_wait: Duration = DEFER_MIN_WAIT
    checkpoint_interval: Duration = 2.0
    """Idempotent resources checkpoint at most this often (s); others after every batch."""
    min_rate_limit_wait: Duration = MIN_RATE_LIMIT_WAIT

    def __post_init__(self) -> None:
        if self.on_ambiguous not in ON_AMBIGUOUS_POLICIES:
            raise ValueError(
                f"on_ambiguous must be one of {ON_AMBIGUOUS_POLICIES}, got {self.on_ambiguous!r}"
            )
        for name in (
            "max_rate_limit_wait",
            "defer_min_wait",
            "checkpoint_interval",
            "min_rate_limit_wait",
        ):
            object.__setattr__(self, name, to_seconds(getattr(self, name), name))

    @property
    def sleep_limit(self) -> float:
        """Longest rate-limit wait slept in the worker; longer ones defer or fail."""
        if self.deferrable:
            return min(self.max_rate_limit_wait, self.defer_min_wait)
        return self.max_rate_limit_wait


@dataclass(frozen=True)
class SyncOutcome:
    """Either the final ``summary`` or the time to resume at (``wait_until``)."""

    summary: dict[str, Any] | None = None
    wait_until: datetime | None = None


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class BatchSync:
    """Send a record pipeline to one Drip batch resource, resumably."""

    def __init__(
        self,
        *,
        hook: BatchSender,
        pipeline: ChunkSource,
        resource: BatchResource,
        fingerprint: str,
        checkpoint: CheckpointStore,
        options: SyncOptions,
        account_id: str = "",
        logger: Logger | None = None,
        sleep: Callable[[float], None] = time.sleep,
        changes: ChangeTracker | None = None,
    ) -> None:
        self.hook = hook
        self.pipeline = pipeline
        self.resource = resource
        self.fingerprint = fingerprint
        """``pipeline.fingerprint()``, computed once by the caller, which also keys the
        checkpoint with it (hashing in-memory records or listing files is not free)."""
        self.checkpoint = checkpoint
        self.options = options
        self.account_id = account_id
        self.log: Logger = logger or logging.getLogger(__name__)
        self._sleep = sleep
        self.changes = changes
        """Changed mode: what Drip accepted is remembered across runs (``sync_mode="changed"``)."""
        self._sent_at_start = 0
        self._last_response: BatchResponse | None = None
        self._request_ids: list[list[str]] = []
        """Request ids accepted in this try; earlier tries' are read back from the store."""
        self._parts_at_start = 0
        self._saved_at = 0.0

    # -- cursor ---------------------------------------------------------------------------
    def _load_cursor(self, fingerprint: str) -> SyncCursor:
        cursor = SyncCursor.from_json(self.checkpoint.load())
        if cursor is not None and cursor.fingerprint != fingerprint:
            self.log.warning(
                "Ignoring a saved cursor for different input (fingerprint %s, now %s): "
                "starting from the first record",
                cursor.fingerprint[:12],
                fingerprint[:12],
            )
            cursor = None
        if cursor is None:
            return SyncCursor(fingerprint=fingerprint, started_at=time.time())
        if cursor.in_flight is not None:
            span = cursor.in_flight
            self.log.warning(
                "The previous try stopped while %s records %s-%s were in flight: their outcome "
                "is unknown",
                self.resource.name,
                span.get("start"),
                span.get("end", 0) - 1,
            )
            cursor.pending_ambiguous = {**span, "cause": IN_FLIGHT_CAUSE, "action": "stopped"}
            cursor.in_flight = None
        self.log.info(
            "Resuming %s sync at record %s: %s records in %s batches already accepted by Drip "
            "in earlier tries",
            self.resource.name,
            f"{cursor.position:,}",
            f"{cursor.records_sent:,}",
            cursor.batches_sent,
        )
        return cursor

    def _save(self, cursor: SyncCursor) -> None:
        """Save the cursor; in changed mode commit the sync state first.

        State before cursor: a try that dies between the two finds the batch in the state and
        filters it as unchanged; the other order would forget it across DAG runs.
        """
        try:
            if self.changes is not None:
                self.changes.commit()  # a conflict with another run raises here...
        finally:
            self.checkpoint.save(cursor.to_json())  # ...and this run's retries still resume
            self._saved_at = time.monotonic()

    def _save_after_batch(self, cursor: SyncCursor) -> None:
        """Checkpoint after an accepted batch.

        Non-idempotent resources save after every batch: a lost cursor would mean a duplicate.
        Idempotent ones (upserts) save at most every ``checkpoint_interval`` seconds — each save is
        a round trip to Airflow's API (~20 ms), which adds up when the budget is not binding, and
        resending a few upserts after a crash changes nothing in Drip. Every wait, deferral,
        error and the end of the run save unconditionally.
        """
        if (
            not self.resource.idempotent
            or time.monotonic() - self._saved_at >= self.options.checkpoint_interval
        ):
            self._save(cursor)

    # -- main loop ------------------------------------------------------------------------
    def run(self) -> SyncOutcome:
        if self.options.dry_run:
            return SyncOutcome(summary=self._dry_run())
        cursor = self._load_cursor(self.fingerprint)
        cursor.tries += 1
        cursor.retry_at = None
        self._parts_at_start = cursor.request_id_parts
        self._sent_at_start = cursor.records_sent
        self._preflight(cursor)
        if cursor.pending_ambiguous is not None:
            self._settle_pending_ambiguous(cursor)
        self._save(cursor)

        progress = ProgressTracker(
            resource=self.resource.name,
            batch_size=self.pipeline.batch_size,
            total=cursor.total if cursor.total is not None else self.pipeline.total_hint,
        )
        prefetcher = Prefetcher(
            self._chunks_with_rejects(cursor.position), depth=self.options.prefetch_depth
        )
        try:
            for chunk, rejected_so_far, unchanged_so_far in prefetcher:
                wait_until = self._wait_for_budget(cursor)
                if wait_until is not None:
                    return SyncOutcome(wait_until=wait_until)
                outcome = self._send(chunk, cursor)
                if isinstance(outcome, datetime):
                    return SyncOutcome(wait_until=outcome)
                progress.batches_this_try += 1
                if outcome is not None:
                    progress.rate_limit = outcome.rate_limit_limit
                    progress.rate_limit_remaining = outcome.rate_limit_remaining
                self.log.info(
                    "%s",
                    progress.line(
                        position=cursor.position,
                        records_sent=cursor.records_sent,
                        batches_sent=cursor.batches_sent,
                        rejected=rejected_so_far,
                        waits=cursor.rate_limit_waits,
                        wait_s=cursor.rate_limit_wait_s,
                        unchanged=unchanged_so_far,
                    ),
                )
        except BaseException:
            # SIGTERM from Airflow, a source error, ...: keep the last accepted batch
            with contextlib.suppress(Exception):
                self._save(cursor)
            raise
        finally:
            prefetcher.close()
        if self.changes is not None:
            self.changes.commit()
        summary = self._summary(cursor)
        for part in range(cursor.request_id_parts):
            self.checkpoint.clear_part(f"request_ids/{part}")
        self.checkpoint.clear()
        self.log.info("Drip %s sync finished: %s", self.resource.name, summary_for_log(summary))
        return SyncOutcome(summary=summary)

    def _chunks_with_rejects(self, start: int) -> Iterator[tuple[Chunk, int, int | None]]:
        """Chunks paired with the rejects (and, in changed mode, unchanged records) counted up
        to each chunk's end.

        Runs in the prefetch thread, right after the pipeline hands the chunk out, so the counts
        belong to that chunk and not to the chunks prepared ahead of it.
        """
        for chunk in self.pipeline.chunks(start=start, background=True):
            stats = self.pipeline.stats  # a pass may replace it
            unchanged = None
            if self.changes is not None:
                counted = getattr(stats, "records_unchanged", 0)
                unchanged = max(0, counted - self._sent_at_start)
            yield chunk, stats.records_rejected, unchanged

    def _preflight(self, cursor: SyncCursor) -> None:
        """With ``on_invalid="fail"``, validate everything before the first request is sent.

        A resumed run has the same input (same fingerprint), which an earlier try already
        validated in full, so it does not pay for that pass again.
        """
        if self.pipeline.on_invalid != "fail" or cursor.total is not None:
            return
        report = self.pipeline.check()
        cursor.total = report.total
        self.log.info("Validated %s records ahead of sending: all valid", f"{report.total:,}")

    def _send(self, chunk: Any, cursor: SyncCursor) -> BatchResponse | datetime | None:
        """Post one chunk, honouring the ambiguity policy. Returns the response, the time to
        defer until, or None when the chunk was skipped as ambiguous."""
        body = chunk.body(self.resource)
        resends = 0
        while True:
            self._mark_in_flight(chunk, cursor)
            try:
                response = self.hook.post_batch(
                    self.resource,
                    body=body,
                    record_count=len(chunk),
                    # 429s come straight back: the loop waits, with the in-flight marker cleared
                    # and the cursor saved, so a kill during the wait is not an unknown outcome
                    max_rate_limit_wait=0.0,
                )
            except DripRateLimitError as err:
                cursor.in_flight = None  # a 429 is an answer: Drip did not take the batch
                cursor.rate_limits_in_a_row += 1
                cursor.wait_since_progress_s += float(getattr(err, "waited_s", 0.0) or 0.0)
                self._give_up_if_refused_too_often(cursor, err)
                wait = max(0.0, (err.retry_at - _utcnow()).total_seconds())
                until = self._wait(wait, cursor, reason="HTTP 429")
                if until is None:  # slept in the worker: send the same chunk again
                    continue
                return until
            except DripAmbiguousOutcomeError as err:
                cursor.in_flight = None  # settled here, by the on_ambiguous policy
                action = self._on_ambiguous(err, chunk, cursor, resends)
                if action == "resend":
                    resends += 1
                    continue
                return None
            except DripAPIError as err:
                cursor.in_flight = None  # refused: known not accepted
                self._save(cursor)
                raise DripAPIError(
                    err.status,
                    err.errors,
                    method="POST",
                    path=f"{err.path or self.resource.path_template} (records "
                    f"{chunk.start}-{chunk.end - 1} of the input; nothing from this batch was "
                    f"accepted; {cursor.records_sent:,} records sent before it)",
                    body_text=err.body_text,
                ) from err
            except DripUnexpectedResponseError as err:
                cursor.in_flight = None  # only raised for idempotent resources: resend is safe
                self._save(cursor)
                raise DripUnexpectedResponseError(
                    err.status,
                    f"{err.reason}; records {chunk.start}-{chunk.end - 1} of the input are not "
                    f"counted as sent ({cursor.records_sent:,} records sent before them), and a "
                    f"retry sends them again, which is harmless for {self.resource.name}",
                    method=err.method,
                    path=err.path,
                    body_text=err.body_text,
                ) from err
            except DripError:
                # Errors the hook raises only when the batch was not taken (or is idempotent);
                # an unknown outcome is DripAmbiguousOutcomeError, handled above.
                cursor.in_flight = None
                self._save(cursor)
                raise
            self._accept(response, chunk, cursor)
            return response

    def _mark_in_flight(self, chunk: Chunk, cursor: SyncCursor) -> None:
        """Before a non-idempotent batch leaves, record that it is on its way.

        If the process dies before the answer is read (SIGKILL, OOM, the worker lost), the next
        try finds the marker and treats the range by ``on_ambiguous`` instead of as unsent, which
        would duplicate it. Upserts need no marker: resending them changes nothing in Drip.
        """
        if self.resource.idempotent:
            return
        if self.changes is not None:
            self.changes.commit()  # fails (if it fails) before anything is marked
        cursor.in_flight = {"start": chunk.start, "end": chunk.end, "records": len(chunk)}
        self.checkpoint.save(cursor.to_json())
        self._saved_at = time.monotonic()

    def _in_worker_wait_left(self, cursor: SyncCursor) -> float:
        """What the hook may still sleep on 429s for this batch: the worker's total allowance
        minus what was already slept in the worker since the last accepted batch (time spent
        deferred does not hold a worker and does not count)."""
        return max(0.0, self.options.sleep_limit - cursor.wait_since_progress_s)

    def _give_up_if_refused_too_often(self, cursor: SyncCursor, err: DripRateLimitError) -> None:
        if cursor.rate_limits_in_a_row <= MAX_RATE_LIMITS_IN_A_ROW:
            return
        self._save(cursor)
        raise DripRateLimitError(
            err.retry_at,
            message=(
                f"Drip answered HTTP 429 {cursor.rate_limits_in_a_row} times in a row without "
                f"accepting a batch (waited {format_duration(cursor.wait_since_progress_s)}); "
                f"giving up rather than asking again. {cursor.records_sent:,} records were sent "
                f"and the cursor is saved: a retry resumes at record {cursor.position:,}"
            ),
        ) from err

    def _accept(self, response: BatchResponse, chunk: Chunk, cursor: SyncCursor) -> None:
        cursor.in_flight = None
        cursor.rate_limits_in_a_row = 0
        cursor.wait_since_progress_s = 0.0
        cursor.position = chunk.end
        cursor.records_sent += len(chunk)
        cursor.batches_sent += 1
        if response.request_ids:
            self.checkpoint.save_part(
                f"request_ids/{cursor.request_id_parts}", list(response.request_ids)
            )
            cursor.request_id_parts += 1
            self._request_ids.append(list(response.request_ids))
        cursor.http_retries += max(0, response.attempts - 1)
        if response.rate_limit_waited_s > 0:
            cursor.rate_limit_waits += 1
            cursor.rate_limit_wait_s += response.rate_limit_waited_s
        self._last_response = response
        if self.changes is not None:
            counts = self.changes.accepted(chunk)
            cursor.records_new += counts.new
            cursor.records_changed += counts.changed
        if self.resource.idempotent:
            self._save_after_batch(cursor)
        else:
            self._save(cursor)  # clears the in-flight marker: this batch is accounted for

    # -- rate limits ----------------------------------------------------------------------
    def _wait_for_budget(self, cursor: SyncCursor) -> datetime | None:
        """Avoid a needless 429: when Drip said the budget is spent and when it refills, wait.

        Without a reset time the next request is sent anyway: its 429 (which costs no records)
        tells the wait.
        """
        last = self._last_response
        if last is None or last.rate_limit_remaining != 0 or last.rate_limit_reset_at is None:
            return None
        wait = (last.rate_limit_reset_at - _utcnow()).total_seconds()
        if wait <= 0:
            return None
        self._last_response = None
        return self._wait(wait, cursor, reason="budget spent")

    def _wait(self, wait: float, cursor: SyncCursor, *, reason: str) -> datetime | None:
        """Sleep, defer (return the time) or fail, by mode and length of the wait.

        Every wait has a floor (a zero or past ``Retry-After`` must not become a hot loop), and
        in the worker the waits since the last accepted batch add up against
        ``max_rate_limit_wait``, so a server that says "5 s" forever cannot hold a task forever.
        """
        wait = max(wait, self.options.min_rate_limit_wait)
        until = _utcnow() + timedelta(seconds=wait)
        cursor.rate_limit_waits += 1
        cursor.rate_limit_wait_s += wait
        if wait <= self._in_worker_wait_left(cursor):
            cursor.wait_since_progress_s += wait
            self._save(cursor)
            self.log.info("Drip rate limit (%s): waiting %.1f s in the worker", reason, wait)
            self._sleep(wait)
            return None
        if self.options.deferrable:
            cursor.deferrals += 1
            cursor.retry_at = until.isoformat()
            self._save(cursor)
            self.log.info(
                "Drip rate limit (%s): deferring for %s until %s, releasing the worker; "
                "%s records sent so far, resuming at record %s",
                reason,
                format_duration(wait),
                until.isoformat(),
                f"{cursor.records_sent:,}",
                f"{cursor.position:,}",
            )
            return until
        self._save(cursor)
        raise DripRateLimitError(
            until,
            message=(
                f"the wait of {format_duration(wait)} would take the time waited without an "
                f"accepted batch past max_rate_limit_wait="
                f"{self.options.max_rate_limit_wait:g}s; {cursor.records_sent:,} records were "
                f"sent and the cursor is saved, so a retry after {until.isoformat()} resumes at "
                f"record {cursor.position:,} (or use deferrable=True to wait without a worker)"
            ),
        )

    # -- ambiguous outcomes ---------------------------------------------------------------
    def _on_ambiguous(
        self, err: DripAmbiguousOutcomeError, chunk: Any, cursor: SyncCursor, resends: int
    ) -> str:
        span = {"start": chunk.start, "end": chunk.end, "records": len(chunk), "cause": err.cause}
        policy = self.options.on_ambiguous
        if policy == "resend" and resends < MAX_AMBIGUOUS_RESENDS:
            cursor.ambiguous_ranges.append({**span, "action": "resent"})
            self._save(cursor)
            self.log.warning(
                "Outcome unknown for %s records %s-%s (%s); resending them (on_ambiguous="
                "'resend'): Drip may now hold them twice",
                self.resource.name,
                chunk.start,
                chunk.end - 1,
                err.cause,
            )
            return "resend"
        if policy == "skip":
            cursor.ambiguous_ranges.append({**span, "action": "assumed_delivered"})
            cursor.position = chunk.end
            self._save(cursor)
            self.log.warning(
                "Outcome unknown for %s records %s-%s (%s); NOT resending (on_ambiguous='skip'):"
                " they may be missing in Drip",
                self.resource.name,
                chunk.start,
                chunk.end - 1,
                err.cause,
            )
            return "skip"
        cursor.pending_ambiguous = {**span, "action": "stopped", "resends": resends}
        self._save(cursor)
        raise DripAmbiguousRangeError(self._ambiguous_message(cursor.pending_ambiguous)) from err

    def _ambiguous_message(self, span: dict[str, Any]) -> str:
        resends = int(span.get("resends") or 0)
        if resends:
            what = (
                f"They were resent {resends} time(s) (on_ambiguous='resend', at most "
                f"{MAX_AMBIGUOUS_RESENDS}) and no answer came back, so Drip may hold them up to "
                f"{resends + 1} times. Check Drip, then re-run"
            )
        else:
            what = (
                f"They were not resent because {self.resource.name} are not idempotent. Check "
                f"Drip, then re-run"
            )
        return (
            f"Outcome unknown for {self.resource.name} records {span['start']}-{span['end'] - 1} "
            f"of the input ({span['records']} records; {span['cause']}). {what} with "
            f"on_ambiguous='resend' to send them again or on_ambiguous='skip' to continue after "
            f"them; the cursor is saved, records before them are not sent again."
        )

    def _settle_pending_ambiguous(self, cursor: SyncCursor) -> None:
        span = cursor.pending_ambiguous or {}
        policy = self.options.on_ambiguous
        if policy == "fail":
            self._save(cursor)  # keeps the range (an in-flight marker became this one)
            raise DripAmbiguousRangeError(self._ambiguous_message(span))
        if policy == "skip":
            cursor.position = span["end"]
            cursor.ambiguous_ranges.append({**span, "action": "assumed_delivered"})
        else:
            cursor.ambiguous_ranges.append({**span, "action": "resent"})
        self.log.warning(
            "Settling the unknown-outcome range %s-%s from an earlier try with on_ambiguous=%r",
            span.get("start"),
            span.get("end", 0) - 1,
            policy,
        )
        cursor.pending_ambiguous = None

    # -- results --------------------------------------------------------------------------
    def _summary(self, cursor: SyncCursor) -> dict[str, Any]:
        """The task's return value; a dry run gets the same shape from a blank cursor."""
        stats = self.pipeline.stats
        request_id_batches = self._request_id_batches()
        return {
            "resource": self.resource.name,
            "account_id": self.account_id,
            "records_sent": cursor.records_sent,
            "records_rejected": stats.records_rejected,
            "records_read": stats.records_read,
            "records_filtered": stats.records_filtered,
            "records_deduplicated": stats.records_deduplicated,
            "batches_sent": cursor.batches_sent,
            "dry_run": False,
            "rejects_path": self._rejects_path(),
            "rate_limit_waits": cursor.rate_limit_waits,
            "rate_limit_wait_s": round(cursor.rate_limit_wait_s, 3),
            "deferrals": cursor.deferrals,
            "http_retries": cursor.http_retries,
            "tries": cursor.tries,
            "ambiguous_ranges": list(cursor.ambiguous_ranges),
            "duration_s": round(time.time() - cursor.started_at, 3),
            **self._change_summary(cursor),
            "request_id_count": sum(len(ids) for ids in request_id_batches),
            "request_id_batches": [len(ids) for ids in request_id_batches],
            "request_ids": [rid for ids in request_id_batches for rid in ids],
        }

    def _change_summary(self, cursor: SyncCursor) -> dict[str, Any]:
        """Changed-mode counts. The pipeline counts as unchanged every record the state knows,
        which on a resumed try includes what earlier tries sent (their state was committed
        before their cursor), so those are taken back out."""
        if self.changes is None:
            return {"sync_mode": "full"}
        unchanged = getattr(self.pipeline.stats, "records_unchanged", 0)
        return {
            "sync_mode": "changed",
            "records_unchanged": max(0, unchanged - self._sent_at_start),
            "records_new": cursor.records_new,
            "records_changed": cursor.records_changed,
            "full_refresh": self.changes.send_all,
            "state_path": self.changes.location,
        }

    def _request_id_batches(self) -> list[list[str]]:
        """Request ids per accepted batch, in order: earlier tries' from the store, then ours.

        The per-batch split goes into the summary (``request_id_batches``) so the status sensor
        knows batch boundaries: Drip processes a batch in order, so its last id completing
        proves the batch done.
        """
        batches = [
            list(self.checkpoint.load_part(f"request_ids/{part}") or [])
            for part in range(self._parts_at_start)
        ]
        return batches + self._request_ids

    def _rejects_path(self) -> str | None:
        path = getattr(self.pipeline, "rejects_path", None)
        return None if path is None else str(path)

    def _dry_run(self) -> dict[str, Any]:
        started = time.time()
        if self.pipeline.on_invalid == "fail":
            self.pipeline.check()
        batches = records = 0
        for chunk in self.pipeline.chunks(start=0):
            if batches == 0:
                sample = chunk.records()[:SAMPLE_RECORDS]
                body = json.dumps(self.resource.envelope(sample), default=str)
                self.log.info(
                    "Dry run: sample payload for POST %s (first %d of %d records in the first "
                    "batch): %s",
                    self.resource.path(self.account_id or "{account_id}"),
                    len(sample),
                    len(chunk),
                    body[:4000],
                )
            batches += 1
            records += len(chunk)
        stats = self.pipeline.stats
        self.log.info(
            "Dry run: would send %s records in %s batches to %s; %s rejected; nothing was sent",
            f"{records:,}",
            batches,
            self.resource.name,
            f"{stats.records_rejected:,}",
        )
        summary = self._summary(
            SyncCursor(fingerprint=self.fingerprint, started_at=started, tries=1)
        )
        summary.update(dry_run=True, records_to_send=records, batches_planned=batches)
        return summary


def summary_for_log(summary: dict[str, Any]) -> str:
    """The summary as one log line, with the request ids counted rather than listed."""
    shown = {k: v for k, v in summary.items() if k not in ("request_ids", "request_id_batches")}
    return json.dumps(shown, default=str)
