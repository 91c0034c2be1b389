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
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from airflow_provider_drip.exceptions import (
    DripAmbiguousOutcomeError,
    DripAmbiguousRangeError,
    DripAPIError,
    DripError,
    DripRateLimitError,
)
from airflow_provider_drip.hooks.responses import BatchResponse
from airflow_provider_drip.resources import BatchResource
from airflow_provider_drip.sync.checkpoint import CheckpointStore, SyncCursor
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


@dataclass(frozen=True)
class SyncOptions:
    max_rate_limit_wait: float = DEFAULT_MAX_RATE_LIMIT_WAIT
    deferrable: bool = False
    on_ambiguous: str = "fail"
    dry_run: bool = False
    prefetch_depth: int = 2
    defer_min_wait: float = DEFER_MIN_WAIT
    checkpoint_interval: float = 2.0
    """Idempotent resources checkpoint at most this often (s); others after every batch."""

    def __post_init__(self) -> None:
        if self.on_ambiguous not in ON_AMBIGUOUS_POLICIES:
            raise ValueError(
                f"on_ambiguous must be one of {ON_AMBIGUOUS_POLICIES}, got {self.on_ambiguous!r}"
            )
        if self.max_rate_limit_wait < 0:
            raise ValueError("max_rate_limit_wait must be >= 0")

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
        hook: Any,
        pipeline: Any,
        resource: BatchResource,
        fingerprint: str,
        checkpoint: CheckpointStore,
        options: SyncOptions,
        account_id: str = "",
        logger: logging.Logger | Any | None = None,
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
        self.log = logger or logging.getLogger(__name__)
        self._last_response: BatchResponse | None = None
        self._request_ids: list[str] = []
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
        self.checkpoint.save(cursor.to_json())
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
            self.pipeline.chunks(start=cursor.position, background=True),
            depth=self.options.prefetch_depth,
        )
        try:
            for chunk in prefetcher:
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
                        records_sent=cursor.records_sent,
                        batches_sent=cursor.batches_sent,
                        rejected=self.pipeline.stats.records_rejected,
                        waits=cursor.rate_limit_waits,
                        wait_s=cursor.rate_limit_wait_s,
                    ),
                )
        except BaseException:
            # SIGTERM from Airflow, a source error, ...: keep the last accepted batch
            with contextlib.suppress(Exception):
                self._save(cursor)
            raise
        finally:
            prefetcher.close()
        summary = self._summary(cursor)
        for part in range(cursor.request_id_parts):
            self.checkpoint.clear_part(f"request_ids/{part}")
        self.checkpoint.clear()
        self.log.info("Drip %s sync finished: %s", self.resource.name, json.dumps(summary)[:2000])
        return SyncOutcome(summary=summary)

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
            try:
                response = self.hook.post_batch(
                    self.resource,
                    body=body,
                    record_count=len(chunk),
                    max_rate_limit_wait=self.options.sleep_limit,
                )
            except DripRateLimitError as err:
                wait = max(0.0, (err.retry_at - _utcnow()).total_seconds())
                until = self._wait(wait, err.retry_at, cursor, reason="HTTP 429")
                if until is None:  # slept in the worker: send the same chunk again
                    continue
                return until
            except DripAmbiguousOutcomeError as err:
                action = self._on_ambiguous(err, chunk, cursor, resends)
                if action == "resend":
                    resends += 1
                    continue
                return None
            except DripAPIError as err:
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
            except DripError:
                self._save(cursor)
                raise
            self._accept(response, chunk, cursor)
            return response

    def _accept(self, response: BatchResponse, chunk: Any, cursor: SyncCursor) -> None:
        cursor.position = chunk.end
        cursor.records_sent += len(chunk)
        cursor.batches_sent += 1
        if response.request_ids:
            self.checkpoint.save_part(
                f"request_ids/{cursor.request_id_parts}", list(response.request_ids)
            )
            cursor.request_id_parts += 1
            self._request_ids.extend(response.request_ids)
        cursor.http_retries += max(0, response.attempts - 1)
        if response.rate_limit_waited_s > 0:
            cursor.rate_limit_waits += 1
            cursor.rate_limit_wait_s += response.rate_limit_waited_s
        self._last_response = response
        self._save_after_batch(cursor)

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
        return self._wait(wait, last.rate_limit_reset_at, cursor, reason="budget spent")

    def _wait(
        self, wait: float, until: datetime, cursor: SyncCursor, *, reason: str
    ) -> datetime | None:
        """Sleep, defer (return the time) or fail, by mode and length of the wait."""
        cursor.rate_limit_waits += 1
        cursor.rate_limit_wait_s += wait
        if wait <= self.options.sleep_limit:
            self._save(cursor)
            self.log.info("Drip rate limit (%s): waiting %.1f s in the worker", reason, wait)
            time.sleep(wait)
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
                f"the wait of {format_duration(wait)} exceeds max_rate_limit_wait="
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
        cursor.pending_ambiguous = {**span, "action": "stopped"}
        self._save(cursor)
        raise DripAmbiguousRangeError(self._ambiguous_message(cursor.pending_ambiguous)) from err

    def _ambiguous_message(self, span: dict[str, Any]) -> str:
        return (
            f"Outcome unknown for {self.resource.name} records {span['start']}-{span['end'] - 1} "
            f"of the input ({span['records']} records; {span['cause']}). They were not resent "
            f"because {self.resource.name} are not idempotent. Check Drip, then re-run with "
            f"on_ambiguous='resend' to send them again or on_ambiguous='skip' to continue after "
            f"them; the cursor is saved, records before them are not sent again."
        )

    def _settle_pending_ambiguous(self, cursor: SyncCursor) -> None:
        span = cursor.pending_ambiguous or {}
        policy = self.options.on_ambiguous
        if policy == "fail":
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
        return {
            "resource": self.resource.name,
            "account_id": self.account_id,
            "records_sent": cursor.records_sent,
            "records_rejected": stats.records_rejected,
            "records_read": stats.records_read,
            "records_filtered": stats.records_filtered,
            "records_deduplicated": stats.records_deduplicated,
            "batches_sent": cursor.batches_sent,
            "request_ids": self._all_request_ids(),
            "dry_run": False,
            "rejects_path": self._rejects_path(),
            "rate_limit_waits": cursor.rate_limit_waits,
            "rate_limit_wait_s": round(cursor.rate_limit_wait_s, 3),
            "deferrals": cursor.deferrals,
            "http_retries": cursor.http_retries,
            "tries": cursor.tries,
            "ambiguous_ranges": list(cursor.ambiguous_ranges),
            "duration_s": round(time.time() - cursor.started_at, 3),
        }

    def _all_request_ids(self) -> list[str]:
        earlier: list[str] = []
        for part in range(self._parts_at_start):
            earlier.extend(self.checkpoint.load_part(f"request_ids/{part}") or [])
        return earlier + self._request_ids

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
