"""The record pipeline: sources, field mapping, validation and chunking. Pure and streaming.

``RecordPipeline`` is the entry point used by the sync loop, built from keywords or from the
specs (``SourceSpec``, ``MappingSpec``, ``RejectSpec``, ``BatchSpec``); docs/records.md is the
user's description. Module map: ``specs`` (parameters), ``sources`` and ``readers`` (input),
``mapping`` (field_map, CSV coercion), ``field_tables`` + ``validate`` (Drip's rules),
``jsonl_check`` (the C shortcut for JSON lines), ``preparer`` (the per-record hot path),
``dedupe``, ``chunker``, ``rejects``, ``preflight`` + ``spool`` (``check()`` and its replay),
``fingerprint``, ``errors``.
"""

from airflow_provider_drip.records.chunker import Chunk, PipelineStats
from airflow_provider_drip.records.errors import InvalidRecordError, Violation
from airflow_provider_drip.records.jsonarray import JSONArrayError
from airflow_provider_drip.records.pipeline import RecordPipeline
from airflow_provider_drip.records.preflight import PreflightReport
from airflow_provider_drip.records.specs import (
    DEFAULT_MAX_BATCH_BYTES,
    BatchSpec,
    MappingSpec,
    RejectSpec,
    SourceSpec,
)

__all__ = [
    "DEFAULT_MAX_BATCH_BYTES",
    "BatchSpec",
    "Chunk",
    "InvalidRecordError",
    "JSONArrayError",
    "MappingSpec",
    "PipelineStats",
    "PreflightReport",
    "RecordPipeline",
    "RejectSpec",
    "SourceSpec",
    "Violation",
]
