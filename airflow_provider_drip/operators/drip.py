"""Operators that load records into Drip's batch endpoints.

Both are thin: they turn parameters and the Airflow context into a ``RecordPipeline`` and a
``BatchSync`` (``sync/loop.py``), and turn the sync's wishes (wait until ..., done with ...) into
Airflow's (defer, return value, asset event). No HTTP and no parsing lives here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset, BaseOperator, BaseOperatorLink

from airflow_provider_drip.compat import conf
from airflow_provider_drip.durations import Duration
from airflow_provider_drip.exceptions import DripConfigError
from airflow_provider_drip.hooks.drip import DripHook
from airflow_provider_drip.operators.lineage import DripLineageMixin
from airflow_provider_drip.operators.sync_setup import (
    account_url,
    as_bool,
    check_sync_mode,
    choose_checkpoint,
    default_state_key,
    open_change_tracker,
)
from airflow_provider_drip.records import (
    DEFAULT_MAX_BATCH_BYTES,
    BatchSpec,
    MappingSpec,
    RecordPipeline,
    RejectSpec,
    SourceSpec,
)
from airflow_provider_drip.resources import (
    MAX_BATCH_SIZE,
    SHOPPER_ACTIVITIES,
    UPSERT_RESOURCES,
    BatchResource,
    get_resource,
)
from airflow_provider_drip.sync.checkpoint import MemoryCheckpoint
from airflow_provider_drip.sync.loop import (
    DEFAULT_MAX_RATE_LIMIT_WAIT,
    DEFER_MIN_WAIT,
    BatchSync,
    SyncOptions,
)

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.sdk.definitions.context import TaskInstanceKey


def asset_for(drip_conn_id: str, resource: BatchResource) -> Asset:
    """The asset a sync writes: ``drip://<connection id>/<resource>``.

    The connection id stands for the account because outlets are declared when the DAG is
    parsed, when reading the connection (a secret) would be top-level work; the event's extra
    carries the real account id.
    """
    return Asset(
        uri=f"drip://{drip_conn_id}/{resource.name}", name=f"drip_{drip_conn_id}_{resource.name}"
    )


class DripAccountLink(BaseOperatorLink):
    """Button on the task: opens the Drip account the task wrote to."""

    name = "Drip account"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        return XCom.get_value(ti_key=ti_key, key=self.xcom_key) or ""


class _DripBatchOperator(DripLineageMixin, BaseOperator):
    """Shared parameters and execution of the Drip batch operators."""

    template_fields: Sequence[str] = (
        "records",
        "source",
        "field_map",
        "rejects_path",
        "state_path",
        "state_key",
        "full_refresh",
    )
    template_fields_renderers = {"field_map": "json", "records": "json"}
    operator_extra_links = (DripAccountLink(),)
    ui_color = "#e8dcff"

    def __init__(
        self,
        *,
        resource: str,
        drip_conn_id: str = DripHook.default_conn_name,
        records: Any = None,
        source: Any = None,
        source_format: str | None = None,
        field_map: Mapping[str, str] | None = None,
        keep_unmapped: bool = True,
        transform: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None,
        batch_size: int = MAX_BATCH_SIZE,
        max_batch_bytes: int | None = None,
        on_invalid: str = "fail",
        rejects_path: Any = None,
        dedupe: bool = False,
        csv_delimiter: str = ",",
        encoding: str = "utf-8",
        list_delimiter: str = ",",
        dry_run: bool = False,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        max_rate_limit_wait: Duration = DEFAULT_MAX_RATE_LIMIT_WAIT,
        on_ambiguous: str = "fail",
        defer_after_seconds: Duration = DEFER_MIN_WAIT,
        hook_params: Mapping[str, Any] | None = None,
        sync_mode: str = "full",
        state_path: Any = None,
        state_key: str | None = None,
        key_fields: Sequence[str] | str | None = None,
        full_refresh: bool | str = False,
        **kwargs: Any,
    ) -> None:
        self.resource = resource
        batch_resource = get_resource(resource)
        kwargs.setdefault("outlets", [asset_for(drip_conn_id, batch_resource)])
        super().__init__(**kwargs)
        if (records is None) == (source is None):
            raise DripConfigError(
                f"{self.task_id}: pass exactly one of records= (a list of dicts or an XComArg) "
                "or source= (a path, URI or ObjectStoragePath)"
            )
        # The pipeline's parameters as specs, each checked once, here; the templated ones
        # (records, source, field_map, rejects_path) join them in _pipeline() after rendering.
        try:
            self.batching = BatchSpec(batch_size, max_batch_bytes or DEFAULT_MAX_BATCH_BYTES)
            self.mapping_spec = MappingSpec(None, keep_unmapped, transform, dedupe)
            self.reject_spec = RejectSpec(on_invalid)
        except (TypeError, ValueError) as err:
            raise DripConfigError(f"{self.task_id}: {err}") from None
        self._records_given = records is not None
        try:
            self.sync_options = SyncOptions(
                max_rate_limit_wait=max_rate_limit_wait,
                deferrable=deferrable,
                on_ambiguous=on_ambiguous,
                dry_run=dry_run,
                defer_min_wait=defer_after_seconds,
            )
        except (TypeError, ValueError) as err:
            raise DripConfigError(f"{self.task_id}: {err}") from None
        check_sync_mode(sync_mode, key_fields, self.task_id)
        self.sync_mode = sync_mode
        self.state_path = state_path
        self.state_key = state_key
        self.key_fields = key_fields
        self.full_refresh = full_refresh
        self.drip_conn_id = drip_conn_id
        self.records = records
        self.source = source
        self.source_format = source_format
        self.field_map = field_map
        self.keep_unmapped = keep_unmapped
        self.transform = transform
        self.batch_size = int(batch_size)
        self.max_batch_bytes = max_batch_bytes
        self.on_invalid = on_invalid
        self.rejects_path = rejects_path
        self.dedupe = dedupe
        self.csv_delimiter = csv_delimiter
        self.encoding = encoding
        self.list_delimiter = list_delimiter
        self.dry_run = dry_run
        self.deferrable = deferrable
        self.max_rate_limit_wait = max_rate_limit_wait
        self.on_ambiguous = on_ambiguous
        self.defer_after_seconds = defer_after_seconds
        self.hook_params = dict(hook_params or {})

    @property
    def batch_resource(self) -> BatchResource:
        return get_resource(self.resource)

    def _pipeline(self) -> RecordPipeline:
        if self._records_given and self.records is None:
            raise DripConfigError(
                f"{self.task_id}: records= rendered to None: the upstream task returned None "
                "(or its XCom is missing). Return a list of dicts from it (an empty list sends "
                "nothing)."
            )
        try:
            source = SourceSpec(
                self.records,
                self.source,
                self.source_format,
                self.csv_delimiter,
                self.encoding,
                self.list_delimiter,
            )
            mapping = replace(self.mapping_spec, field_map=self.field_map)
            rejects = replace(self.reject_spec, rejects_path=self.rejects_path)
            # Checks that need the resource or the files: a rejects_path over the source,
            # dedupe without an identity, a body cap too small for one record.
            return RecordPipeline.from_specs(self.resource, source, mapping, rejects, self.batching)
        except (TypeError, ValueError) as err:
            raise DripConfigError(f"{self.task_id}: {err}") from None

    def execute(self, context: Context) -> dict[str, Any]:
        return self._run_sync(context)

    def execute_resume(self, context: Context, event: Any = None) -> dict[str, Any]:
        """Called after a rate-limit deferral; the cursor comes from the task state store."""
        self.log.info("Resuming after the Drip rate-limit wait")
        return self._run_sync(context)

    def _run_sync(self, context: Context) -> dict[str, Any]:
        hook = DripHook(self.drip_conn_id, **self.hook_params)
        resource = self.batch_resource
        account_id = "" if self.dry_run and not self._has_connection(hook) else hook.account_id
        if account_id:  # first, so the link exists even if the sync fails or defers
            link = DripAccountLink()
            url = account_url(hook.settings.base_url, account_id)
            context["ti"].xcom_push(key=link.xcom_key, value=url)
        pipeline = self._pipeline()
        fingerprint = pipeline.fingerprint()
        key = f"drip-sync/{resource.name}/{fingerprint[:16]}"
        checkpoint = (
            choose_checkpoint(
                context, key, state_path=self.state_path, account_id=account_id, resource=resource
            )
            if account_id
            else MemoryCheckpoint(key)
        )
        changes = None
        if self.sync_mode == "changed":
            if not account_id:
                raise DripConfigError(
                    f"{self.task_id}: sync_mode='changed' needs the connection's account id, "
                    "even for a dry run (the sync state is kept per account)"
                )
            changes = open_change_tracker(
                state_path=self.state_path,
                account_id=account_id,
                resource=resource,
                state_key=self.state_key or default_state_key(context),
                key_fields=self.key_fields,
                full_refresh=as_bool(self.full_refresh, "full_refresh"),
                resumed=checkpoint.load() is not None,
            )
            pipeline.change_filter = changes
        sync = BatchSync(
            hook=hook,
            pipeline=pipeline,
            resource=resource,
            fingerprint=fingerprint,
            checkpoint=checkpoint,
            options=self.sync_options,
            account_id=account_id,
            logger=self.log,
            changes=changes,
        )
        try:
            outcome = sync.run()
        finally:
            hook.close()
            pipeline.close()
        if outcome.wait_until is not None:
            from airflow.providers.standard.triggers.temporal import DateTimeTrigger

            self.defer(
                trigger=DateTimeTrigger(moment=outcome.wait_until),
                method_name="execute_resume",
            )
        summary = outcome.summary or {}
        self._drip_summary = summary  # read by DripLineageMixin (OpenLineage)
        if account_id:
            self._publish(context, account_id, resource, summary)
        return summary

    @staticmethod
    def _has_connection(hook: DripHook) -> bool:
        """A dry run may be tried before the connection exists; don't fail it for that."""
        try:
            return bool(hook.account_id)
        except Exception:
            return False

    def _publish(
        self, context: Context, account_id: str, resource: BatchResource, summary: dict[str, Any]
    ) -> None:
        """The asset event's extra for downstream DAGs."""
        if summary.get("dry_run"):
            return
        for outlet in self.outlets or ():
            if isinstance(outlet, Asset) and outlet.uri.startswith("drip://"):
                context["outlet_events"][outlet].extra = {
                    "account_id": account_id,
                    "resource": resource.name,
                    "records_sent": summary.get("records_sent", 0),
                    "batches_sent": summary.get("batches_sent", 0),
                }


class DripBatchUpsertOperator(_DripBatchOperator):
    """Send records to one of Drip's v2 batch endpoints.

    :param resource: ``subscribers`` (create/update), ``unsubscribes``, ``events`` or ``orders``
        (the legacy orders endpoint).
    :param records: a list of dicts, or an XComArg of one (templated). Exactly one of
        ``records`` / ``source``.
    :param source: a path, URI or ``ObjectStoragePath`` of a JSON, JSON Lines, CSV or Parquet file
        (optionally ``.gz``), a directory, or a glob (templated).
    :param source_format: ``json``, ``jsonl``, ``csv`` or ``parquet``; default by extension.
    :param field_map: source column → Drip field; dotted targets nest (``custom_fields.size``).
    :param batch_size: records per request, 1-1000 (default 1000: every request full).
    :param on_invalid: ``fail`` (validate everything first, send nothing if any record is
        invalid) or ``skip`` (set invalid records aside in ``rejects_path`` and send the rest).
    :param dry_run: read, map, validate and chunk, log a sample payload, send nothing.
    :param deferrable: wait out long rate limits in the triggerer instead of a worker slot.
    :param max_rate_limit_wait: longest rate-limit wait in seconds a non-deferrable task sleeps;
        beyond it the task fails with the time to retry (the cursor is kept).
    :param on_ambiguous: ``fail`` | ``resend`` | ``skip`` for events batches whose outcome is
        unknown (sent, no answer); see ``sync.loop.ON_AMBIGUOUS_POLICIES``.
    :param hook_params: extra ``DripHook`` arguments, e.g. ``{"max_retries": 8, "backoff_base": 2}``
        for the retries on 5xx and connection errors.
    :param defer_after_seconds: in deferrable mode, rate-limit waits up to this long are slept in
        the worker (a deferral round trip costs more than a few seconds of sleep).
    :return: summary dict: ``records_sent``, ``records_rejected``, ``batches_sent``,
        ``request_ids`` (empty for v2), ``dry_run``, ``rejects_path``, ``rate_limit_waits``,
        ``duration_s``, ``ambiguous_ranges``, ...
    """

    def __init__(self, *, resource: str, **kwargs: Any) -> None:
        if resource not in UPSERT_RESOURCES:
            raise DripConfigError(
                f"DripBatchUpsertOperator resource must be one of {UPSERT_RESOURCES}, "
                f"got {resource!r} (shopper activity: use DripShopperActivityOperator)"
            )
        super().__init__(resource=resource, **kwargs)


class DripShopperActivityOperator(_DripBatchOperator):
    """Send cart, order or product activity to Drip's v3 shopper activity batch endpoints.

    Takes the same parameters as ``DripBatchUpsertOperator`` except ``activity`` (``cart``,
    ``order`` or ``product``) replaces ``resource``. The summary's ``request_ids`` lists every
    request id Drip returned, in record order — feed it to ``DripRequestStatusSensor``.
    """

    def __init__(self, *, activity: str, **kwargs: Any) -> None:
        if activity not in SHOPPER_ACTIVITIES:
            raise DripConfigError(
                f"DripShopperActivityOperator activity must be one of {SHOPPER_ACTIVITIES}, "
                f"got {activity!r}"
            )
        self.activity = activity
        super().__init__(resource=activity, **kwargs)
