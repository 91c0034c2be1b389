"""The example DAG files import cleanly, quickly and without touching the network.

The DAG processor re-imports every DAG file every few seconds, so top-level work there is paid
over and over; network at import time is worse still (a slow or failing service breaks parsing).
The check runs in a subprocess with a socket guard and a throw-away ``AIRFLOW_HOME``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.airflow_env import EXAMPLE_DAG_IDS, EXAMPLE_DAGS, AirflowEnv
from tests.e2e.import_check import RESULT_PREFIX

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

MAX_IMPORT_SECONDS = 2.0
CHECKER = Path(__file__).with_name("import_check.py")


def run_import_check(folder: Path, home: Path) -> dict[str, Any]:
    env = AirflowEnv(home, folder).env
    result = subprocess.run(
        [sys.executable, str(CHECKER), str(folder)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    for line in result.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    raise AssertionError(f"import check failed ({result.returncode}):\n{result.stderr[-3000:]}")


@pytest.fixture(scope="module")
def example_imports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_import_check(EXAMPLE_DAGS, tmp_path_factory.mktemp("imports"))


def test_dagbag_has_no_import_errors(example_imports: dict[str, Any]) -> None:
    assert example_imports["import_errors"] == {}
    assert sorted(example_imports["dags"]) == sorted(EXAMPLE_DAG_IDS)


def test_dag_files_do_no_network_and_import_fast(example_imports: dict[str, Any]) -> None:
    assert example_imports["blocked"] == []
    for name, info in example_imports["files"].items():
        assert info["error"] is None, f"{name}:\n{info['error']}"
        assert info["seconds"] < MAX_IMPORT_SECONDS, f"{name} took {info['seconds']:.2f}s"


def test_example_dags_follow_the_conventions(example_imports: dict[str, Any]) -> None:
    for dag_id, dag in example_imports["dags"].items():
        assert {"drip", "example"} <= set(dag["tags"]), dag_id
        assert dag["schedule"] is None or dag["catchup"] is False, dag_id
        assert dag["fileloc"] == f"{dag_id}.py", "one DAG per file, named after it"


def test_the_network_guard_catches_a_dag_that_connects(tmp_path: Path) -> None:
    """Without this, an always-empty ``blocked`` list would prove nothing."""
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "chatty.py").write_text(
        "import urllib.request\n"
        "from airflow.sdk import DAG\n"
        "try:\n"
        "    urllib.request.urlopen('http://example.com/', timeout=1)\n"
        "except OSError:\n"
        "    pass\n"
        "dag = DAG(dag_id='chatty', schedule=None)\n"
    )
    result = run_import_check(folder, tmp_path / "home")
    assert result["blocked"], result
    assert "chatty" in result["dags"]
