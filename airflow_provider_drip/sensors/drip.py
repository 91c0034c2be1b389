"""DripRequestStatusSensor: wait until Drip has processed the v3 batches a task sent.

Put it after a ``DripShopperActivityOperator`` (``request_ids=orders.output``) so downstream tasks
only run once Drip has processed the data. Three ways to wait, all with the same outcome and the
same messages: ``mode="poke"`` (holds a worker slot), ``mode="reschedule"`` (frees the slot
between pokes) and ``deferrable=True`` (waits on the triggerer with
:class:`~airflow_provider_drip.triggers.drip.DripRequestStatusTrigger`).

Progress between pokes: ids already seen ``completed`` are saved in ``context["task_state_store"]``
(Airflow 3.3) as a compact bitmap, so a reschedule-mode poke, a retry or a deferral checks only
the ids still pending. Without a task state store the sensor keeps progress in memory (enough in
poke mode) and otherwise re-checks, logging a warning once.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_drip.compat import AirflowFailException, conf
from airflow_provider_drip.exceptions import DripError, DripRateLimitError
from airflow_provider_drip.hooks.drip import DripHook
from airflow_provider_drip.hooks.responses import RequestStatus
from airflow_provider_drip.sensors.request_ids import normalise_request_id_batches
from airflow_provider_drip.triggers.drip import DripRequestStatusTrigger
from airflow_provider_drip.triggers.status_poll import (
    DEFAULT_MAX_REQUESTS_PER_HOUR,
    VERIFY_MODES,
    StatusTracker,
    decode_progress,
    encode_progress,
    failure_message,
    fingerprint,
    make_round,
    progress_line,
    round_allowance,
    sample_batches,
    terminal_error_message,
    verification_summary,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

PROGRESS_KEY = "drip_request_status_progress"
"""``task_state_store`` key holding the completed-ids bitmap (see status_poll.encode_progress)."""


class DripRequestStatusSensor(BaseSensorOperator):
    """Wait until every Drip request id is ``completed``; fail as soon as any is ``failed``.

    :param request_ids: (templated) a list of ids, an XComArg of one, or a
        ``DripShopperActivityOperator`` summary dict (its ``request_ids`` key), e.g.
        ``request_ids=orders.output``. Also a JSON / Python-literal string of those, or a mapped
        operator's list of summaries. De-duplicated in order; an empty list succeeds at once.
    :param drip_conn_id: the ``drip`` connection (default ``drip_default``).
    :param deferrable: wait on the triggerer instead of a worker (default
        ``[operators] default_deferrable``).
    :param max_concurrency: status requests in flight at once.
    :param probe_window: end a polling round after this many consecutive ids that are still
        queued/processing (Drip works through requests in order, so the ids behind them are very
        likely waiting too, and every check counts against the 3,600 requests/hour limit).
        ``None`` checks every pending id every round.

    Returns (XCom) a summary: ``total``, ``completed``, ``failed``, ``pending`` (``queued`` +
    ``processing`` + ``other`` status + ``unchecked``) and ``failed_requests``
    (``[{"request_id", "errors"}]``). A failed id fails the task with
    ``AirflowFailException`` (no retries: Drip will not change its mind); so do unknown ids / a
    missing status endpoint (404), with a hint at the connection extra ``request_status_path``.
    """

    template_fields: Sequence[str] = ("request_ids",)
    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        request_ids: Any,
        drip_conn_id: str = DripHook.default_conn_name,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        max_concurrency: int = 8,
        probe_window: int | None = 16,
        poke_interval: timedelta | float = 60,
        verify: str = "sample",
        max_requests_per_hour: float | None = DEFAULT_MAX_REQUESTS_PER_HOUR,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, **kwargs)
        if verify not in VERIFY_MODES:
            raise ValueError(f"verify must be one of {VERIFY_MODES}, got {verify!r}")
        if max_requests_per_hour is not None and max_requests_per_hour <= 0:
            raise ValueError("max_requests_per_hour must be positive, or None for no pacing")
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if probe_window is not None and probe_window < 1:
            raise ValueError("probe_window must be at least 1 or None")
        self.request_ids = request_ids
        self.drip_conn_id = drip_conn_id
        self.deferrable = deferrable
        self.max_concurrency = max_concurrency
        self.probe_window = probe_window
        self.verify = verify
        self.max_requests_per_hour = max_requests_per_hour
        self._sample: list[list[str]] | None = None
        """Sample mode: the ids checked, per batch, each batch's last id last."""
        self._total_ids = 0
        self._tracker: StatusTracker | None = None
        self._saved_completed = -1

    @cached_property
    def hook(self) -> DripHook:
        hook = DripHook(drip_conn_id=self.drip_conn_id)
        hook.pool_maxsize = max(hook.pool_maxsize, self.max_concurrency)
        return hook

    # ------------------------------------------------------------------ execution paths

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        tracker = self._load_tracker(context)
        if tracker.done:
            return self._succeed(tracker)
        pending = tracker.pending_ids()
        self.log.info(
            "Deferring: waiting on the triggerer for %d pending Drip request id(s) of %d",
            len(pending),
            len(tracker.request_ids),
        )
        self.defer(
            trigger=DripRequestStatusTrigger(
                drip_conn_id=self.drip_conn_id,
                request_ids=pending,
                poll_interval=self.poke_interval,
                already_completed=len(tracker.completed),
                max_concurrency=self.max_concurrency,
                probe_window=self.probe_window,
                sample_batches=self._pending_sample(tracker),
                max_requests_per_hour=self.max_requests_per_hour,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Turn the trigger's event into the summary (success) or a task failure."""
        if not event:
            raise DripError("DripRequestStatusTrigger ended without an event")
        status = event.get("status")
        summary = event.get("summary") or {}
        if status == "success":
            self.log.info("All Drip requests completed: %s", progress_line(summary))
            self._plan()  # a resumed sensor is a new instance: work out the coverage again
            return self._with_coverage(summary)
        if status == "failed":
            raise AirflowFailException(str(event.get("message") or failure_message(summary)))
        message = str(event.get("message") or f"DripRequestStatusTrigger event: {event!r}")
        if event.get("retryable"):
            raise DripError(message)
        raise AirflowFailException(message)

    def poke(self, context: Context) -> bool | PokeReturnValue:
        tracker = self._load_tracker(context)
        if tracker.done:
            return PokeReturnValue(is_done=True, xcom_value=self._succeed(tracker))
        checks_before = tracker.checks
        try:
            self._poll_round(tracker)
        finally:
            self._save_progress(context, tracker)
        self._raise_on_terminal_errors(tracker)
        summary = tracker.summary()
        self.log.info(
            "Drip request status: %s; %d status check(s) this poke",
            progress_line(summary),
            tracker.checks - checks_before,
        )
        if tracker.done:
            return PokeReturnValue(is_done=True, xcom_value=self._with_coverage(summary))
        return False

    # ------------------------------------------------------------------ helpers

    def _with_coverage(self, summary: dict[str, Any]) -> dict[str, Any]:
        """Sample mode says how many ids exist and how many were checked (``verify="all"``
        keeps the summary it always had: every id was checked)."""
        if self._sample is None:
            return summary
        checked = sum(len(b) for b in self._sample)
        coverage = verification_summary(self._total_ids, checked, "sample")
        if coverage["ids_unverified"]:
            self.log.info("Sample mode: %s", coverage["verification"])
        return {**summary, **coverage}

    def _pending_sample(self, tracker: StatusTracker) -> list[list[str]] | None:
        if self._sample is None:
            return None
        pending = [[i for i in batch if not tracker.is_terminal(i)] for batch in self._sample]
        return [batch for batch in pending if batch]

    def _succeed(self, tracker: StatusTracker) -> dict[str, Any]:
        summary = self._with_coverage(tracker.summary())
        if not tracker.request_ids:
            self.log.info("No Drip request ids to wait for; nothing to do")
        else:
            self.log.info("All Drip requests completed: %s", progress_line(summary))
        return summary

    def _plan(self) -> list[str]:
        """The ids to check, in order: every id, or sample mode's ids batch by batch. Sets
        ``_sample`` and ``_total_ids`` (also after a deferral, for the summary's coverage)."""
        batches, boundaries_known = normalise_request_id_batches(self.request_ids)
        self._total_ids = sum(len(b) for b in batches)
        if self.verify != "sample":
            self._sample = None
            return [i for batch in batches for i in batch]
        if not boundaries_known and self._total_ids:
            self.log.warning(
                "verify='sample' without batch boundaries (request_ids is a plain list, not "
                "an operator summary): the list is treated as one batch, so its last id and "
                "a spread are checked"
            )
        self._sample = sample_batches(batches)
        return [i for batch in self._sample for i in batch]

    def _load_tracker(self, context: Context) -> StatusTracker:
        """The tracker for the rendered ids, with progress from memory or the task state store."""
        ids = self._plan()
        if self._tracker is not None and self._tracker.request_ids == ids:
            return self._tracker
        tracker = StatusTracker(ids)
        store = context.get("task_state_store")
        if store is None:
            self.log.warning(
                "task_state_store is not available (Airflow < 3.3?): progress is kept in memory "
                "only, so a reschedule-mode poke or a retry re-checks every pending id"
            )
        elif ids:
            tracker.completed = decode_progress(ids, store.get(PROGRESS_KEY))
            if tracker.completed:
                self.log.info(
                    "Resuming: %d of %d Drip request id(s) already seen completed",
                    len(tracker.completed),
                    len(ids),
                )
        self._saved_completed = len(tracker.completed)
        self._tracker = tracker
        self.log.info(
            "Waiting for %d Drip request id(s) (set %s) on connection %r",
            len(ids),
            fingerprint(ids)[:8],
            self.drip_conn_id,
        )
        return tracker

    def _save_progress(self, context: Context, tracker: StatusTracker) -> None:
        store = context.get("task_state_store")
        if store is None or len(tracker.completed) == self._saved_completed:
            return
        store.set(PROGRESS_KEY, encode_progress(tracker.request_ids, tracker.completed))
        self._saved_completed = len(tracker.completed)

    def _poll_round(self, tracker: StatusTracker) -> None:
        """Check pending ids in order, a few at a time, until the round ends or Drip pushes back."""
        hook = self.hook
        hook.settings  # noqa: B018 - resolve the connection once, before threads share the hook
        rnd = make_round(
            tracker,
            sample=self._sample,
            chunk_size=self.max_concurrency,
            probe_window=self.probe_window,
            limit=round_allowance(self.max_requests_per_hour, self.poke_interval),
        )
        with ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="drip-status") as pool:
            while chunk := rnd.next_chunk():
                results = list(pool.map(self._fetch, chunk))
                error = tracker.record_results(chunk, results)
                rnd.observe_results(results)
                if isinstance(error, DripRateLimitError):
                    self.log.warning(
                        "Drip rate limited status checks (%s); trying again next poke", error
                    )
                    return
                if error is not None:
                    raise error

    def _fetch(self, request_id: str) -> RequestStatus | BaseException:
        try:
            return self.hook.get_request_status(request_id)
        except Exception as err:  # handed back to record_results, in order
            return err

    def _raise_on_terminal_errors(self, tracker: StatusTracker) -> None:
        settings = self.hook.settings
        message = terminal_error_message(
            tracker,
            conn_id=settings.conn_id,
            account_id=settings.account_id,
            status_path=settings.request_status_path,
        )
        if message is not None:
            raise AirflowFailException(message)
