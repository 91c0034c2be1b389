"""Does preparing the next batch while one is in flight pay on this machine?

``python -m bench.overlap`` sends the 200k-subscriber JSONL twice through the provider's
pipeline and hook: once preparing each chunk inline (no overlap) and once with the
``Prefetcher`` thread preparing chunks while the request is in flight. It reports the time spent
waiting for chunks and the time spent posting, so one can see whether client and server work
really run side by side or slow each other down (on a small VM the vCPUs may share a core).
"""

from __future__ import annotations

import sys
import time
from typing import Any

from bench.common import log
from bench.data import jsonl_file
from bench.runners import use_connection, warm_up


def measure(handle: Any, source: Any, depth: int | None) -> dict[str, float]:
    from airflow_provider_drip.hooks.drip import DripHook
    from airflow_provider_drip.records import RecordPipeline
    from airflow_provider_drip.resources import get_resource
    from airflow_provider_drip.sync.prefetch import Prefetcher

    resource = get_resource("subscribers")
    handle.control.reset(keep_config=True)
    pipeline = RecordPipeline(resource="subscribers", source=str(source), on_invalid="skip")
    chunks = iter(Prefetcher(pipeline.chunks(), depth) if depth else pipeline.chunks())
    hook = DripHook()
    waiting = posting = 0.0
    started = time.perf_counter()
    while True:
        before = time.perf_counter()
        try:
            chunk = next(chunks)
        except StopIteration:
            break
        got = time.perf_counter()
        waiting += got - before
        hook.post_batch(resource, body=chunk.body(resource), record_count=len(chunk))
        posting += time.perf_counter() - got
    hook.close()
    return {
        "total_s": round(time.perf_counter() - started, 2),
        "waiting_for_chunks_s": round(waiting, 2),
        "posting_s": round(posting, 2),
    }


def main(argv: list[str] | None = None) -> int:
    from airflow_provider_drip.emulator.runner import run_emulator_subprocess

    warm_up()
    source = jsonl_file(200_000)
    with run_emulator_subprocess(rate_limit=0) as handle:
        use_connection(handle)
        for label, depth in (("inline", None), ("prefetch thread", 2)) * 2:
            result = measure(handle, source, depth)
            log(f"{label:16s} {result}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
