"""The input fingerprint: which input and which chunk-shaping settings a sync cursor belongs to.

A resume trusts a saved cursor only when the fingerprint matches, so everything that moves
positions or chunk boundaries is in it, and nothing else.
"""

from __future__ import annotations

import json
from typing import Any

from airflow_provider_drip.records.sources import FileSource, MemorySource, new_hash
from airflow_provider_drip.records.specs import BatchSpec, MappingSpec, SourceSpec

FINGERPRINT_VERSION = "drip-records/1"


def input_fingerprint(
    resource: str,
    source: FileSource | MemorySource,
    source_spec: SourceSpec,
    mapping: MappingSpec,
    batching: BatchSpec,
    coerce: bool,
) -> str:
    """Stable digest of the input's identity and every parameter that shapes the chunks.

    ``on_invalid`` and ``rejects_path`` are left out on purpose: they change what happens to
    invalid records, not positions or chunk boundaries, so a run that failed with "fail" can be
    resumed with "skip".
    """
    h = new_hash()
    h.update(FINGERPRINT_VERSION.encode() + b"\n")
    kind = "records" if isinstance(source, MemorySource) else "files"
    h.update(f"{resource}\n{kind}\n".encode())
    source.update_fingerprint(h)
    transform = mapping.transform
    params: dict[str, Any] = {
        "source_format": source_spec.source_format,
        "field_map": mapping.field_map,
        "keep_unmapped": mapping.keep_unmapped,
        "transform": None
        if transform is None
        else f"{getattr(transform, '__module__', '')}:"
        f"{getattr(transform, '__qualname__', type(transform).__qualname__)}",
        "batch_size": batching.batch_size,
        "max_batch_bytes": batching.max_batch_bytes,
        "dedupe": mapping.dedupe,
        "csv_delimiter": source_spec.csv_delimiter,
        "encoding": source_spec.encoding,
        "list_delimiter": source_spec.list_delimiter,
        "coerce": coerce,
    }
    h.update(json.dumps(params, sort_keys=True).encode())
    return h.hexdigest()
