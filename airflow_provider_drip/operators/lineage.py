"""OpenLineage for the Drip batch operators: what a sync read, what it wrote, and how it went.

The OpenLineage provider's listener calls ``get_openlineage_facets_on_complete`` (or
``..._on_failure``) on the operator that ran, in the task process, after ``execute``. Nothing
here imports OpenLineage until then, so the operators work without the provider installed.

Naming follows OpenLineage's dataset naming: a local file is ``file://<host>`` + its absolute
path, object storage ``<scheme>://<bucket>`` + the key; Drip is ``drip://<account id>`` + the
resource. Records given inline or through XCom have no dataset, so such a sync has no input.
"""

from __future__ import annotations

import os
import socket
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.providers.common.compat.openlineage.facet import Dataset
    from airflow.providers.openlineage.extractors import OperatorLineage

RUN_FACET = "drip_sync"
"""Key of the run facet with the sync's batches, rejects, waits and request ids."""

LOCAL_PROTOCOLS = frozenset({"file", "local"})


def dataset_name(location: Any) -> tuple[str, str]:
    """OpenLineage ``(namespace, name)`` of a path, URI or ``ObjectStoragePath``."""
    from airflow_provider_drip.records.sources import fs_and_path

    fs, path = fs_and_path(location)
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    if LOCAL_PROTOCOLS & set(protocols):
        return f"file://{socket.gethostname()}", os.path.abspath(path)
    bucket, _, key = path.lstrip("/").partition("/")
    return f"{protocols[0]}://{bucket}", key


@cache
def _run_facet_class() -> type:
    """The run facet class, built on first use: defining it needs OpenLineage's base class."""
    from airflow.providers.common.compat.openlineage.facet import RunFacet
    from attrs import define

    @define
    class DripSyncRunFacet(RunFacet):  # type: ignore[misc]
        """How one Drip batch sync went (the task's summary, without the request ids)."""

        resource: str
        dryRun: bool
        recordsSent: int
        recordsRejected: int
        batchesSent: int
        rateLimitWaits: int
        deferrals: int
        requestIdCount: int

    return DripSyncRunFacet


class DripLineageMixin:
    """OpenLineage methods for ``_DripBatchOperator``; reads what the operator's sync left.

    The operator sets ``_drip_summary`` (its return value) when a sync finishes; a failed sync
    leaves it unset, and the failure event then names the datasets without statistics.
    """

    _drip_summary: dict[str, Any] | None = None
    source: Any
    dry_run: bool
    drip_conn_id: str
    resource: str

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        return self._drip_lineage()

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> OperatorLineage:
        return self._drip_lineage()

    def _drip_lineage(self) -> OperatorLineage:
        from airflow.providers.openlineage.extractors import OperatorLineage

        summary = self._drip_summary or {}
        inputs = [self._dataset(self.source)] if self.source is not None else []
        if summary.get("dry_run", self.dry_run):  # nothing was written
            return OperatorLineage(inputs=inputs, run_facets=self._run_facets(summary))
        account_id = summary.get("account_id") or self._account_id()
        if not account_id:
            return OperatorLineage(inputs=inputs, run_facets=self._run_facets(summary))
        outputs = [
            self._output(
                f"drip://{account_id}",
                summary.get("resource") or self.resource,
                summary.get("records_sent"),
            )
        ]
        rejects = summary.get("rejects_path")
        if rejects and summary.get("records_rejected"):
            outputs.append(self._output(*dataset_name(rejects), summary["records_rejected"]))
        return OperatorLineage(inputs=inputs, outputs=outputs, run_facets=self._run_facets(summary))

    def _account_id(self) -> str | None:
        """The connection's account id, for a failure before the sync reported one."""
        from airflow_provider_drip.hooks.drip import DripHook

        try:
            return DripHook(self.drip_conn_id).account_id
        except Exception:  # no usable connection: no output dataset to name
            return None

    @staticmethod
    def _dataset(location: Any) -> Dataset:
        from airflow.providers.common.compat.openlineage.facet import InputDataset

        namespace, name = dataset_name(location)
        return InputDataset(namespace=namespace, name=name)

    @staticmethod
    def _output(namespace: str, name: str, rows: int | None) -> Dataset:
        from airflow.providers.common.compat.openlineage.facet import (
            OutputDataset,
            OutputStatisticsOutputDatasetFacet,
        )

        facets = (
            {}
            if rows is None
            else {"outputStatistics": OutputStatisticsOutputDatasetFacet(rowCount=int(rows))}
        )
        return OutputDataset(namespace=namespace, name=name, outputFacets=facets)

    @staticmethod
    def _run_facets(summary: dict[str, Any]) -> dict[str, Any]:
        if not summary:
            return {}
        facet = _run_facet_class()(
            resource=summary["resource"],
            dryRun=bool(summary.get("dry_run")),
            recordsSent=int(summary.get("records_sent", 0)),
            recordsRejected=int(summary.get("records_rejected", 0)),
            batchesSent=int(summary.get("batches_sent", 0)),
            rateLimitWaits=int(summary.get("rate_limit_waits", 0)),
            deferrals=int(summary.get("deferrals", 0)),
            requestIdCount=int(summary.get("request_id_count", 0)),
        )
        return {RUN_FACET: facet}
