"""DAGs the benchmarks run in a real Airflow (a throw-away AIRFLOW_HOME; see bench/airflow.py).

Inputs come from environment variables set by the benchmark, so the file parses without them.
"""

from __future__ import annotations

import gc
import os
from datetime import datetime
from typing import Any

from airflow.sdk import DAG

from airflow_provider_drip.operators.drip import DripBatchUpsertOperator

SOURCE = os.environ.get("DRIP_BENCH_SOURCE", "/tmp/drip-bench-data/missing.jsonl")
ON_INVALID = os.environ.get("DRIP_BENCH_ON_INVALID", "fail")
OCCUPANCY_SOURCE = os.environ.get("DRIP_BENCH_OCCUPANCY_SOURCE", SOURCE)
TUNE = os.environ.get("DRIP_BENCH_TUNE", "")


def _tune(context: Any) -> None:
    """Diagnostic only (``DRIP_BENCH_TUNE``): what the provider itself could do in a task.

    ``gcfreeze``: move Airflow's live objects out of the collector's reach.
    """
    if "gcfreeze" in TUNE:
        gc.collect()
        gc.freeze()
    if "profile" in TUNE:  # cProfile of the main thread, dumped by _dump_profile
        import cProfile

        profiler = cProfile.Profile()
        context["ti"].task._bench_profiler = profiler
        profiler.enable()


def _dump_profile(context: Any, result: Any = None) -> None:
    profiler = getattr(context["ti"].task, "_bench_profiler", None)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(os.environ.get("DRIP_BENCH_PROFILE_OUT", "/tmp/drip-bench-task.prof"))


with DAG("drip_bench_throughput", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):
    DripBatchUpsertOperator(
        task_id="send",
        resource="subscribers",
        source=SOURCE,
        on_invalid=ON_INVALID,
        pre_execute=_tune if TUNE else None,
        post_execute=_dump_profile if "profile" in TUNE else None,
    )

for mode, deferrable in (("deferrable", True), ("sleeping", False)):
    with DAG(
        f"drip_bench_occupancy_{mode}",
        schedule=None,
        start_date=datetime(2024, 1, 1),
        catchup=False,
    ):
        DripBatchUpsertOperator(
            task_id="send",
            resource="subscribers",
            drip_conn_id=f"drip_{mode}",
            source=OCCUPANCY_SOURCE,
            deferrable=deferrable,
            max_rate_limit_wait=3900,
        )
