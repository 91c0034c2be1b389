"""Fixtures for the end-to-end tests: a real Airflow and the Drip emulator, as subprocesses.

Every fixture works in a throw-away directory, binds only to 127.0.0.1 and stops every process
it started (``AirflowEnv.stop`` / ``Emulator.stop``), whatever the test outcome.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.airflow_env import (
    EXAMPLE_DAG_IDS,
    AirflowEnv,
    DagsTestResult,
    Emulator,
    example_dags_env,
)


@dataclass
class ExampleRuns:
    """Every example DAG run once with ``airflow dags test`` against one fresh emulator."""

    env: AirflowEnv
    emulator: Emulator
    results: dict[str, DagsTestResult]
    stats: dict[str, Any]
    rejects_dir: Path

    def run_id(self, dag_id: str) -> str:
        run_id = self.env.latest_run_id(dag_id)
        assert run_id, f"{dag_id} left no DAG run:\n{self.results[dag_id].output[-3000:]}"
        return run_id

    def returns(self, dag_id: str) -> dict[tuple[str, int], Any]:
        return self.env.xcom_returns(dag_id, self.run_id(dag_id))


@pytest.fixture(scope="session")
def example_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExampleRuns]:
    """Run all example DAGs (``airflow dags test``, one interpreter) against the emulator.

    The example DAGs write disjoint Drip resources, so the emulator's per-resource stats after
    the whole session still say exactly what each DAG sent.
    """
    workdir = tmp_path_factory.mktemp("examples")
    with Emulator(log_path=workdir / "emulator.log") as emulator:
        env, rejects_dir = example_dags_env(workdir, emulator)
        try:
            env.migrate()
            results = env.dags_test_many(EXAMPLE_DAG_IDS, timeout=600)
            yield ExampleRuns(env, emulator, results, emulator.stats(), rejects_dir)
        finally:
            env.stop()
