"""A throw-away Airflow for the benchmarks, reusing the e2e harness (tests/e2e/airflow_env.py)."""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import BENCH_DIR

DAGS = BENCH_DIR / "dags"
_FINISHED = re.compile(r"sync finished: (\{.*?\}) \[", re.S)


@contextmanager
def airflow_env(extra_env: Mapping[str, str]) -> Iterator[Any]:
    """A migrated AirflowEnv whose DAG folder is ``bench/dags``."""
    from tests.e2e.airflow_env import AirflowEnv

    with tempfile.TemporaryDirectory(prefix="drip-bench-airflow-") as home:
        env = AirflowEnv(Path(home), DAGS, extra_env=dict(extra_env))
        try:
            env.migrate()
            yield env
        finally:
            env.stop()


def dags_test_summary(env: Any, dag_id: str, **env_vars: str) -> dict[str, Any]:
    """Run ``airflow dags test`` and return the operator's summary (parsed from its log line)."""
    env.env.update(env_vars)
    result = env.dags_test(dag_id, timeout=600)
    output = result.stdout + result.stderr
    match = _FINISHED.search(output)
    if result.returncode != 0 or not match:
        raise RuntimeError(f"airflow dags test {dag_id} failed:\n{output[-3000:]}")
    return json.loads(match.group(1))
