"""Import every example DAG file with the network switched off, timing each; then a DagBag.

Run as a subprocess (``python import_check.py DAG_FOLDER``) in a throw-away ``AIRFLOW_HOME``. It
prints one stdout line, ``RESULT_PREFIX`` + JSON: per-file import seconds and errors, blocked
network attempts, the DagBag's import errors and DAG facts. A DAG file must do no network and no
heavy work at import: the DAG processor imports it every few seconds.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any

BLOCKED: list[str] = []
RESULT_PREFIX = "@@import-check@@ "
"""Prefix of the result line (Airflow may log to stdout too)."""


def _guard_network() -> None:
    """Make every non-Unix socket connect and every DNS lookup fail, and remember the attempt."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def refuse(what: str) -> OSError:
        BLOCKED.append(what)
        return OSError(f"network disabled during DAG import: {what}")

    def connect(self: socket.socket, address: Any) -> None:
        if self.family == socket.AF_UNIX:
            return real_connect(self, address)
        raise refuse(f"connect {address!r}")

    def connect_ex(self: socket.socket, address: Any) -> int:
        if self.family == socket.AF_UNIX:
            return real_connect_ex(self, address)
        raise refuse(f"connect_ex {address!r}")

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        raise refuse(f"getaddrinfo {host!r}")

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo


def main(folder: Path) -> dict[str, Any]:
    _guard_network()
    import airflow.sdk  # noqa: F401  (Airflow's own import cost is not the DAG file's)

    files: dict[str, Any] = {}
    for path in sorted(folder.glob("*.py")):
        started = time.perf_counter()
        error = None
        try:
            spec = importlib.util.spec_from_file_location(f"_dag_import_{path.stem}", path)
            assert spec and spec.loader
            spec.loader.exec_module(importlib.util.module_from_spec(spec))
        except Exception:
            error = traceback.format_exc()
        files[path.name] = {"seconds": time.perf_counter() - started, "error": error}

    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(folder))
    dags = {
        dag_id: {
            "fileloc": Path(dag.fileloc).name,
            "tags": sorted(dag.tags),
            "schedule": None if dag.schedule is None else str(dag.schedule),
            "catchup": dag.catchup,
            "tasks": len(dag.tasks),
        }
        for dag_id, dag in bag.dags.items()
    }
    return {
        "files": files,
        "blocked": BLOCKED,
        "import_errors": {Path(k).name: v for k, v in bag.import_errors.items()},
        "dags": dags,
    }


if __name__ == "__main__":
    result = main(Path(sys.argv[1]))
    print("\n" + RESULT_PREFIX + json.dumps(result), flush=True)
