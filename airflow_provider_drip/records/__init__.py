"""The record pipeline: sources, field mapping, validation and chunking. Pure and streaming.

``RecordPipeline`` is the entry point used by the sync loop; see the README section "Records:
sources, mapping, validation".
"""

from airflow_provider_drip.records.errors import InvalidRecordError, Violation
from airflow_provider_drip.records.jsonarray import JSONArrayError
from airflow_provider_drip.records.pipeline import (
    DEFAULT_MAX_BATCH_BYTES,
    Chunk,
    PipelineStats,
    PreflightReport,
    RecordPipeline,
)

__all__ = [
    "DEFAULT_MAX_BATCH_BYTES",
    "Chunk",
    "InvalidRecordError",
    "JSONArrayError",
    "PipelineStats",
    "PreflightReport",
    "RecordPipeline",
    "Violation",
]
