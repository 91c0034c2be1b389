"""``airflow dags test`` for several DAGs in one interpreter.

Each ``airflow dags test`` process spends ~8 s starting Airflow's in-process execution API before
its first task runs; this runner parses ``dags test DAG_ID`` with Airflow's own CLI parser and
calls the same command function once per DAG, so that start-up is paid once. Between DAGs it
prints a marker line (``MARKER`` + JSON: dag_id, exit code, seconds) that ``AirflowEnv`` splits the
output on.

Usage: ``python dags_test_runner.py DAG_ID [DAG_ID ...]`` (with the Airflow environment set).
"""

from __future__ import annotations

import json
import sys
import time
import traceback

MARKER = "@@drip-e2e-dags-test@@ "


def run(dag_ids: list[str]) -> int:
    from airflow.cli import cli_parser

    parser = cli_parser.get_parser()
    worst = 0
    for dag_id in dag_ids:
        started = time.monotonic()
        args = parser.parse_args(["dags", "test", dag_id])
        code = 0
        try:
            args.func(args)
        except SystemExit as exc:  # "DagRun failed" and argument errors
            code = exc.code if isinstance(exc.code, int) else 1
            if not isinstance(exc.code, int):
                print(exc.code, flush=True)
        except Exception:
            traceback.print_exc()
            code = 1
        worst = worst or code
        result = {"dag_id": dag_id, "returncode": code, "seconds": time.monotonic() - started}
        sys.stderr.flush()
        print(MARKER + json.dumps(result), flush=True)
    return worst


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
