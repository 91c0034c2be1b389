"""A real Airflow 3 and the Drip emulator, as subprocesses on loopback, for e2e tests and the demo.

Everything runs in a throw-away ``AIRFLOW_HOME`` (SQLite, LocalExecutor) so a test can start the
actual scheduler, triggerer, DAG processor and API server, trigger a DAG from the CLI and watch
task states in the metadata DB, then tear it all down. Every process we start runs in a new session
and carries a marker environment variable, so ``stop()`` can kill exactly our processes —
including task processes that Airflow moved into their own process groups — and nothing else.

This module imports nothing from Airflow (it only drives the ``airflow`` CLI), so importing it
never touches ``~/airflow``; the emulator's control client is the project's ``EmulatorControl``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from airflow_provider_drip.emulator.config import DEFAULT_ACCOUNT_ID, DEFAULT_TOKEN
from airflow_provider_drip.emulator.control import EmulatorControl

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = REPO_ROOT / "example_dags"
E2E_DAGS = Path(__file__).resolve().parent / "dags"
EXAMPLE_DAG_IDS = (
    "drip_subscribers_nightly",
    "drip_events_from_xcom",
    "drip_shopper_orders",
    "drip_products_mapped",
    "drip_unsubscribes",
)
"""The example DAGs, in the order the demo runs them (a test checks this is all of them)."""
BIN_DIR = Path(sys.executable).parent
AIRFLOW_BIN = str(BIN_DIR / "airflow")
MARKER_VAR = "DRIP_E2E_MARKER"
SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer")
TERMINAL_RUN_STATES = frozenset({"success", "failed"})
RUNNER_MARKER = "@@drip-e2e-dags-test@@ "
"""Must match ``dags_test_runner.MARKER``."""

T = TypeVar("T")


class HarnessError(RuntimeError):
    """A component did not start, or a wait ran out of time; the message says which and why."""


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    probe: Callable[[], T | None], timeout: float, interval: float = 0.5, what: str = "condition"
) -> T:
    """Call ``probe`` until it returns something truthy; raise HarnessError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise HarnessError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def _http_json(method: str, url: str, body: Any = None, timeout: float = 10.0) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        raw = response.read()
    return json.loads(raw) if raw.strip() else None


def _session_id(stat: str) -> int | None:
    """Session id from the text of ``/proc/PID/stat`` (fields after the command's ``)``)."""
    try:
        return int(stat.rsplit(")", 1)[1].split()[3])
    except (IndexError, ValueError):
        return None


def find_processes(marker: str, sessions: Iterable[int] = ()) -> list[int]:
    """Pids of live processes we started: ``MARKER_VAR=marker`` in their environment, or a
    session id in ``sessions``.

    Both are needed: Airflow's task processes rename themselves with ``setproctitle``, which
    overwrites the memory ``/proc/PID/environ`` shows, and they move to their own process group
    (so ``killpg`` misses them) — but they stay in the session of the service that forked them.
    """
    needle = f"{MARKER_VAR}={marker}".encode()
    wanted = set(sessions)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            stat = (entry / "stat").read_text()
            if " Z " in stat.rsplit(")", 1)[-1][:3]:
                continue  # a zombie: already dead, only waiting to be reaped
            if _session_id(stat) in wanted:
                found.append(int(entry.name))
                continue
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def kill_processes(marker: str, sessions: Iterable[int] = (), grace: float = 10.0) -> None:
    """SIGTERM every process ``find_processes`` names, then SIGKILL what is left after ``grace``."""
    sessions = list(sessions)
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        pids = find_processes(marker, sessions)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and find_processes(marker, sessions):
            time.sleep(0.2)


def _stop_process_group(proc: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """Terminate a process started with ``start_new_session=True`` and its whole group."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


class Emulator:
    """The Drip emulator CLI in a subprocess, plus a small client for its control API."""

    def __init__(self, *args: str, log_path: Path | None = None, start_timeout: float = 30.0):
        self.marker = uuid.uuid4().hex
        self._control: EmulatorControl | None = None
        env = {**os.environ, MARKER_VAR: self.marker, "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "airflow_provider_drip.emulator", "--port", "0", *args]
        self._log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            start_new_session=True,
            cwd=REPO_ROOT,
        )
        assert self.proc.stdout is not None
        line = self._first_line(start_timeout)
        if not line.startswith("http"):
            self.stop()
            raise HarnessError(f"emulator did not print its URL (got {line!r}); see {log_path}")
        self.url = line.rstrip("/")

    def _first_line(self, timeout: float) -> str:
        import selectors

        assert self.proc.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            self.stop()
            raise HarnessError(f"emulator printed nothing within {timeout:.0f}s")
        return self.proc.stdout.readline().decode().strip()

    @property
    def control(self) -> EmulatorControl:
        if self._control is None:
            self._control = EmulatorControl(self.url)
        return self._control

    def stats(self) -> dict[str, Any]:
        return self.control.stats()

    def reset(self, keep_config: bool = False) -> None:
        self.control.reset(keep_config=keep_config)

    def configure(self, **options: Any) -> dict[str, Any]:
        return self.control.configure(**options)

    def records(self, resource: str) -> list[dict[str, Any]]:
        return self.control.records(resource)

    def connection_json(self, **extra: Any) -> str:
        """The ``AIRFLOW_CONN_DRIP_DEFAULT`` value pointing at this emulator."""
        return connection_json(self.url, **extra)

    def stop(self) -> None:
        if self._control is not None:
            self._control.close()
        _stop_process_group(self.proc, grace=5.0)
        kill_processes(self.marker, [self.proc.pid], grace=2.0)
        if self.proc.stdout:
            self.proc.stdout.close()
        if self._log not in (None, subprocess.DEVNULL):
            self._log.close()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def connection_json(base_url: str, **extra: Any) -> str:
    """A ``drip`` connection (JSON form of ``AIRFLOW_CONN_*``) for the emulator at ``base_url``."""
    conn: dict[str, Any] = {
        "conn_type": "drip",
        "host": base_url,
        "login": DEFAULT_ACCOUNT_ID,
        "password": DEFAULT_TOKEN,
    }
    if extra:
        conn["extra"] = extra
    return json.dumps(conn)


@dataclass(frozen=True)
class DagsTestResult:
    """The outcome of one ``airflow dags test``: exit code, wall time and its output."""

    dag_id: str
    returncode: int
    seconds: float
    output: str


class AirflowEnv:
    """One throw-away Airflow installation: a home directory, its SQLite DB and its services.

    ``env`` is the environment every ``airflow`` command and service gets: the temp home, the DAG
    folder, no example DAGs, LocalExecutor, an API server on a free loopback port (the task SDK
    reaches the execution API there) and short scheduling intervals so tests are quick.
    """

    def __init__(
        self,
        home: Path,
        dags_folder: Path,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        self.dags_folder = Path(dags_folder)
        self.db_path = self.home / "airflow.db"
        self.api_port = free_port()
        self.marker = uuid.uuid4().hex
        self.services: dict[str, subprocess.Popen[Any]] = {}
        self.sessions: list[int] = []
        """Session ids of everything started here (each ``Popen`` starts a new session)."""
        self._logs: list[Any] = []
        api = f"http://127.0.0.1:{self.api_port}"
        self.env: dict[str, str] = {
            **os.environ,
            MARKER_VAR: self.marker,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.db_path}",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__BASE_URL": api,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": uuid.uuid4().hex,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__SCHEDULER__STANDALONE_DAG_PROCESSOR": "True",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "2",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("AIRFLOW_CONFIG", None)
        if extra_env:
            self.env.update(extra_env)

    # --- CLI ------------------------------------------------------------------------------

    def airflow(
        self, *args: str, timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run one ``airflow`` CLI command in this environment and return its output."""
        result = subprocess.run(
            [AIRFLOW_BIN, *args],
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=True,
        )
        if check and result.returncode != 0:
            tail = (result.stdout + result.stderr)[-4000:]
            raise HarnessError(f"airflow {' '.join(args)} exited {result.returncode}:\n{tail}")
        return result

    def migrate(self) -> None:
        self.airflow("db", "migrate", timeout=180)

    def dags_test(self, dag_id: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """``airflow dags test DAG_ID``: one in-process run (triggers run inline)."""
        return self.airflow("dags", "test", dag_id, timeout=timeout, check=False)

    def dags_test_many(
        self,
        dag_ids: Sequence[str],
        timeout: float = 600,
        on_result: Callable[[DagsTestResult], None] | None = None,
    ) -> dict[str, DagsTestResult]:
        """``airflow dags test`` for each DAG, in one interpreter (see ``dags_test_runner``).

        ``on_result`` is called as each DAG finishes. A DAG the runner never reached (it crashed
        or timed out) gets return code -1 and whatever output there was.
        """
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("dags_test_runner.py")), *dag_ids],
            env=self.env,
            cwd=self.home,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.sessions.append(proc.pid)
        timer = threading.Timer(timeout, _stop_process_group, args=(proc, 5.0))
        timer.start()
        results: dict[str, DagsTestResult] = {}
        lines: list[str] = []
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith(RUNNER_MARKER):
                    info = json.loads(line[len(RUNNER_MARKER) :])
                    result = DagsTestResult(
                        info["dag_id"], info["returncode"], info["seconds"], "".join(lines)
                    )
                    results[result.dag_id] = result
                    lines = []
                    if on_result:
                        on_result(result)
                else:
                    lines.append(line)
            proc.wait()
        finally:
            timer.cancel()
            _stop_process_group(proc, grace=5.0)
        for dag_id in dag_ids:
            if dag_id not in results:
                why = f"runner exited {proc.returncode} before finishing {dag_id}\n"
                results[dag_id] = DagsTestResult(dag_id, -1, 0.0, "".join(lines) + why)
                lines = []
        return results

    # --- services -------------------------------------------------------------------------

    def start(self, services: Sequence[str] = SERVICES, health_timeout: float = 120) -> None:
        """Start the given ``airflow`` services in their own sessions and wait until they serve."""
        logs = self.home / "service-logs"
        logs.mkdir(exist_ok=True)
        for name in services:
            log = open(logs / f"{name}.log", "wb")  # noqa: SIM115
            self._logs.append(log)
            self.services[name] = subprocess.Popen(
                [AIRFLOW_BIN, name],
                env=self.env,
                cwd=self.home,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.sessions.append(self.services[name].pid)
        self.wait_healthy(health_timeout)

    def health(self) -> dict[str, Any] | None:
        try:
            return _http_json("GET", f"{self.env['AIRFLOW__API__BASE_URL']}/api/v2/monitor/health")
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def wait_healthy(self, timeout: float) -> None:
        """Wait until the API server answers and the scheduler/triggerer/processor heartbeat."""

        def probe() -> bool:
            self._check_alive()
            body = self.health()
            if not body:
                return False
            wanted = {
                "scheduler": "scheduler",
                "triggerer": "triggerer",
                "dag-processor": "dag_processor",
            }
            for service, key in wanted.items():
                if service in self.services and body.get(key, {}).get("status") != "healthy":
                    return False
            return True

        wait_until(probe, timeout, 1.0, "Airflow services to become healthy")

    def _check_alive(self) -> None:
        for name, proc in self.services.items():
            if proc.poll() is not None:
                raise HarnessError(
                    f"airflow {name} exited with {proc.returncode}:\n{self.service_log(name)}"
                )

    def service_log(self, name: str, tail: int = 4000) -> str:
        path = self.home / "service-logs" / f"{name}.log"
        return path.read_text(errors="replace")[-tail:] if path.exists() else ""

    def stop(self) -> None:
        """Stop every service and every process (task runners too) this environment started."""
        for proc in self.services.values():
            _stop_process_group(proc)
        kill_processes(self.marker, self.sessions)
        for log in self._logs:
            log.close()
        self.services.clear()
        self._logs.clear()

    def processes(self) -> list[int]:
        """Pids of every live process this environment started, task processes included."""
        return find_processes(self.marker, self.sessions)

    def __enter__(self) -> AirflowEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- metadata DB (read-only) ----------------------------------------------------------

    @contextlib.contextmanager
    def db(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30)
        conn.row_factory = sqlite3.Row
        try:
            yield conn
        finally:
            conn.close()

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        for attempt in range(5):
            try:
                with self.db() as conn:
                    return conn.execute(sql, tuple(params)).fetchall()
            except sqlite3.OperationalError as err:  # "database is locked" under load
                if attempt == 4 or "locked" not in str(err):
                    raise
                time.sleep(0.5)
        return []

    def dag_is_parsed(self, dag_id: str) -> bool:
        return bool(self.query("SELECT 1 FROM serialized_dag WHERE dag_id = ?", (dag_id,)))

    def import_errors(self) -> list[dict[str, Any]]:
        rows = self.query("SELECT filename, stacktrace FROM import_error")
        return [dict(row) for row in rows]

    def latest_run_id(self, dag_id: str) -> str | None:
        rows = self.query(
            "SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)
        )
        return rows[0]["run_id"] if rows else None

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        rows = self.query(
            "SELECT state FROM dag_run WHERE dag_id = ? AND run_id = ?", (dag_id, run_id)
        )
        return rows[0]["state"] if rows else None

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        rows = self.query(
            "SELECT task_id, map_index, state, try_number, pid FROM task_instance "
            "WHERE dag_id = ? AND run_id = ? ORDER BY task_id, map_index",
            (dag_id, run_id),
        )
        return [dict(row) for row in rows]

    def task_state(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str | None:
        for ti in self.task_instances(dag_id, run_id):
            if ti["task_id"] == task_id and ti["map_index"] == map_index:
                return ti["state"]
        return None

    def task_history(self, dag_id: str, run_id: str, task_id: str) -> list[dict[str, Any]]:
        """Earlier tries of a task (Airflow moves them to ``task_instance_history``)."""
        rows = self.query(
            "SELECT task_id, map_index, state, try_number FROM task_instance_history "
            "WHERE dag_id = ? AND run_id = ? AND task_id = ? ORDER BY try_number",
            (dag_id, run_id, task_id),
        )
        return [dict(row) for row in rows]

    def xcom_returns(self, dag_id: str, run_id: str) -> dict[tuple[str, int], Any]:
        """Every task's return value in a run, keyed by ``(task_id, map_index)``."""
        rows = self.query(
            "SELECT task_id, map_index, value FROM xcom "
            "WHERE dag_id = ? AND run_id = ? AND key = 'return_value' ORDER BY task_id, map_index",
            (dag_id, run_id),
        )
        out: dict[tuple[str, int], Any] = {}
        for row in rows:
            value = row["value"]
            try:
                out[(row["task_id"], row["map_index"])] = json.loads(value)
            except (TypeError, ValueError):
                out[(row["task_id"], row["map_index"])] = value
        return out

    # --- driving runs through the real scheduler --------------------------------------------

    def wait_for_dag(self, dag_id: str, timeout: float = 90) -> None:
        def probe() -> bool:
            self._check_alive()
            return self.dag_is_parsed(dag_id)

        try:
            wait_until(probe, timeout, 1.0, f"DAG {dag_id!r} to be parsed")
        except HarnessError as err:
            raise HarnessError(
                f"{err}; import errors: {self.import_errors()}\n{self.service_log('dag-processor')}"
            ) from None

    def trigger(self, dag_id: str, run_id: str | None = None, conf: Any = None) -> str:
        """Unpause ``dag_id`` and trigger one run through the CLI; return its run id."""
        run_id = run_id or f"e2e__{uuid.uuid4().hex[:12]}"
        self.airflow("dags", "unpause", dag_id)
        args = ["dags", "trigger", dag_id, "--run-id", run_id]
        if conf is not None:
            args += ["--conf", json.dumps(conf)]
        self.airflow(*args)
        return run_id

    def wait_for_task_state(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        states: Iterable[str],
        timeout: float,
        map_index: int = -1,
    ) -> str:
        wanted = set(states)

        def probe() -> str | None:
            self._check_alive()
            state = self.task_state(dag_id, run_id, task_id, map_index)
            return state if state in wanted else None

        try:
            return wait_until(probe, timeout, 0.25, f"{dag_id}.{task_id} in {sorted(wanted)}")
        except HarnessError as err:
            raise HarnessError(f"{err}; {self.describe_run(dag_id, run_id)}") from None

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> str:
        def probe() -> str | None:
            self._check_alive()
            state = self.run_state(dag_id, run_id)
            return state if state in TERMINAL_RUN_STATES else None

        try:
            return wait_until(probe, timeout, 0.5, f"run {dag_id}/{run_id} to finish")
        except HarnessError as err:
            raise HarnessError(f"{err}; {self.describe_run(dag_id, run_id)}") from None

    def describe_run(self, dag_id: str, run_id: str) -> str:
        """Run and task states plus the tail of each task's log, for assertion messages."""
        lines = [f"run state={self.run_state(dag_id, run_id)}"]
        for ti in self.task_instances(dag_id, run_id):
            lines.append(
                f"  {ti['task_id']}[{ti['map_index']}] {ti['state']} try={ti['try_number']}"
            )
        lines.append(self.task_logs(dag_id, run_id, tail=3000))
        return "\n".join(lines)

    def task_logs(self, dag_id: str, run_id: str, tail: int = 20000) -> str:
        """Concatenated task log files of one run (``$AIRFLOW_HOME/logs/dag_id=.../run_id=...``)."""
        base = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
        parts = []
        for path in sorted(base.rglob("*.log")) if base.exists() else []:
            parts.append(f"--- {path.relative_to(base)}\n{path.read_text(errors='replace')}")
        return "\n".join(parts)[-tail:]


def example_dags_env(workdir: Path, emulator: Emulator) -> tuple[AirflowEnv, Path]:
    """An Airflow home under ``workdir`` for the example DAGs, their Drip connection pointing at
    ``emulator``; returns it with the directory the DAGs write their rejects files to."""
    rejects_dir = workdir / "rejects"
    env = AirflowEnv(
        workdir / "airflow",
        EXAMPLE_DAGS,
        extra_env={
            "AIRFLOW_CONN_DRIP_DEFAULT": emulator.connection_json(),
            "DRIP_EXAMPLE_REJECTS_URI": f"file://{rejects_dir}",
        },
    )
    return env, rejects_dir
