"""The record pipeline: sources, field mapping, validation and chunking. Pure and streaming.

``RecordPipeline`` is the entry point used by the sync loop; see the README section "Records:
sources, mapping, validation".
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
