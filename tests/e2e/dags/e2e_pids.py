"""``on_execute_callback`` for the e2e DAGs: which process runs a try, for the tests that kill it.

Not a DAG file; the DAGs folder is on ``sys.path`` in every Airflow process.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def write_pid(context: Any) -> None:
    """Write ``$E2E_STATE_DIR/<dag_id>.<task_id>.try<n>.pid``."""
    ti = context["ti"]
    state_dir = Path(os.environ["E2E_STATE_DIR"])
    (state_dir / f"{ti.dag_id}.{ti.task_id}.try{ti.try_number}.pid").write_text(str(os.getpid()))
