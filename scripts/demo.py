"""``make demo``: run every example DAG in a real Airflow against the local Drip emulator.

Steps: start the emulator on a free loopback port, create a throw-away ``AIRFLOW_HOME`` (SQLite,
``airflow db migrate``), point ``AIRFLOW_CONN_DRIP_DEFAULT`` at the emulator, run each example
DAG with ``airflow dags test``, then print what each task returned (its XCom summary, read from
the metadata DB) and what the emulator received. Exits 1 if a DAG run failed or the emulator saw
a refused batch (422) or a duplicate record; stops every process it started either way.

What the demo shows is kept in ``demo-output/`` (gitignored, emptied at the start of each run):
the rejects files, every task's summary, the emulator's counters and the records it received.
The throw-away Airflow home is deleted unless ``--keep`` (or a failure) keeps it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
OUTPUT_DIR = REPO_ROOT / "demo-output"
sys.path.insert(0, str(REPO_ROOT))

from tests.e2e.airflow_env import (  # noqa: E402
    EXAMPLE_DAG_IDS,
    AirflowEnv,
    DagsTestResult,
    Emulator,
    HarnessError,
    example_dags_env,
)


def describe_value(value: Any) -> str:
    """One line for a task's return value: the Drip summary's key numbers, or its shape."""
    if isinstance(value, dict) and "records_sent" in value:
        parts = [
            f"sent {value['records_sent']}",
            f"rejected {value.get('records_rejected', 0)}",
            f"batches {value.get('batches_sent', 0)}",
        ]
        if value.get("dry_run"):
            parts = [
                "dry run",
                f"would send {value.get('records_to_send', 0)}",
                f"in {value.get('batches_planned', 0)} batch(es)",
            ]
        if value.get("request_ids"):
            parts.append(f"request ids {len(value['request_ids'])}")
        if value.get("rate_limit_waits"):
            parts.append(f"rate-limit waits {value['rate_limit_waits']}")
        if value.get("rejects_path") and value.get("records_rejected"):
            rejects = str(value["rejects_path"]).removeprefix("file://")
            parts.append(f"rejects -> {display_path(Path(rejects))}")
        return ", ".join(parts)
    if isinstance(value, dict) and {"total", "completed"} <= value.keys():
        return (
            f"Drip processed {value['completed']}/{value['total']} request(s), "
            f"failed {value.get('failed', 0)}, pending {value.get('pending', 0)}"
        )
    if isinstance(value, list):
        return f"returned a list of {len(value)} item(s)"
    if value is None:
        return "no return value"
    return f"returned {json.dumps(value, default=str)[:80]}"


def print_run(
    env: AirflowEnv,
    dag_id: str,
    run_id: str | None,
    seconds: float,
    summaries: dict[str, Any] | None = None,
) -> bool:
    state = env.run_state(dag_id, run_id) if run_id else None
    mark = "ok  " if state == "success" else "FAIL"
    print(f"\n[{mark}] {dag_id}: {state or 'no run'} in {seconds:.1f}s")
    if not run_id:
        return False
    returns = env.xcom_returns(dag_id, run_id)
    for ti in env.task_instances(dag_id, run_id):
        key = (ti["task_id"], ti["map_index"])
        name = ti["task_id"] + (f"[{ti['map_index']}]" if ti["map_index"] >= 0 else "")
        print(f"       {name:<28} {ti['state']:<8} {describe_value(returns.get(key))}")
        if summaries is not None:
            summaries.setdefault(dag_id, {})[name] = {
                "state": ti["state"],
                "returned": returns.get(key),
            }
    return state == "success"


def print_emulator(stats: dict[str, Any]) -> bool:
    print("\nWhat the Drip emulator received")
    print(f"  {'resource':<14}{'requests':>9}{'records':>9}{'refused(422)':>14}{'duplicates':>12}")
    for name, res in stats["resources"].items():
        if not (res["requests_accepted"] or res["requests_rejected"]):
            continue
        print(
            f"  {name:<14}{res['requests_accepted']:>9}{res['records_accepted']:>9}"
            f"{res['requests_rejected']:>14}{res['duplicates']:>12}"
        )
    errors = stats["errors"]
    print(
        f"  total: {stats['records_accepted']} record(s) in "
        f"{stats['batch_requests_admitted']} batch request(s); 429s {errors['429']}, "
        f"422s {errors['422']}, 401s {errors['401']}, 5xx {errors['5xx']}, "
        f"status checks {stats['requests_total'] - stats['batch_requests_admitted']}"
    )
    return errors["422"] == 0 and stats["duplicates"] == 0 and errors["401"] == 0


CSV_REJECT_SOURCES = ("subscribers-",)
"""Rejects files (by name prefix) whose example source is one CSV file with a header row and no
line breaks inside cells: there, position N (0-based record number) is on CSV line N + 2."""


def print_rejects(rejects_dir: Path) -> None:
    for path in sorted(rejects_dir.glob("*")):
        lines = path.read_text().splitlines()
        print(f"\nRejects file {display_path(path)}: {len(lines)} record(s) set aside")
        for line in lines:
            entry = json.loads(line)
            reasons = "; ".join(r.get("message", str(r)) for r in entry.get("reasons", []))
            position = entry.get("position")
            where = f"position {position}"
            if entry.get("location"):  # e.g. ".../subscribers.csv, CSV line 6"
                where += f" ({str(entry['location']).replace(f'{REPO_ROOT}/', '')})"
            elif path.name.startswith(CSV_REJECT_SOURCES) and isinstance(position, int):
                where += f" (CSV line {position + 2})"
            print(f"  {where}: {reasons}")


def display_path(path: Path) -> str:
    """``path`` relative to the repository when it is inside it (demo-output/...)."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def save_outputs(emulator: Emulator, summaries: dict[str, Any]) -> None:
    """Keep what the demo showed: task summaries, emulator counters, records Drip received."""
    (OUTPUT_DIR / "task-summaries.json").write_text(json.dumps(summaries, indent=2, default=str))
    stats = emulator.stats()
    (OUTPUT_DIR / "emulator-stats.json").write_text(json.dumps(stats, indent=2, default=str))
    received = OUTPUT_DIR / "received"
    received.mkdir(exist_ok=True)
    for name, res in stats["resources"].items():
        if res["records_accepted"]:
            records = emulator.records(name)
            (received / f"{name}.jsonl").write_text(
                "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
            )


def run_demo(workdir: Path, dag_ids: list[str]) -> bool:
    started = time.monotonic()
    print(f"Demo workspace: {workdir}")
    with Emulator(log_path=workdir / "emulator.log") as emulator:
        print(f"Drip emulator listening on {emulator.url}")
        env, _ = example_dags_env(workdir, emulator)
        rejects_dir = OUTPUT_DIR / "rejects"
        env.env["DRIP_EXAMPLE_REJECTS_URI"] = f"file://{rejects_dir}"
        summaries: dict[str, Any] = {}
        try:
            print("Preparing a temporary Airflow (SQLite): airflow db migrate ...")
            env.migrate()
            print(f"Running: airflow dags test <dag_id>, for {len(dag_ids)} example DAG(s)")
            failures: list[str] = []

            def report(result: DagsTestResult) -> None:
                run_id = env.latest_run_id(result.dag_id)
                ran = print_run(env, result.dag_id, run_id, result.seconds, summaries)
                if not ran or result.returncode:
                    failures.append(result.dag_id)
                    print(f"       exit code {result.returncode}; output tail:")
                    print(result.output[-3000:])

            results = env.dags_test_many(dag_ids, timeout=900, on_result=report)
            for dag_id, result in results.items():
                if result.returncode == -1 and dag_id not in failures:
                    report(result)
            ok = not failures
            ok = print_emulator(emulator.stats()) and ok
            print_rejects(rejects_dir)
            save_outputs(emulator, summaries)
            print(
                f"\nKept in {display_path(OUTPUT_DIR)}/: rejects/, task-summaries.json, "
                "emulator-stats.json, received/<resource>.jsonl"
            )
        finally:
            env.stop()
    verdict = "all example DAGs succeeded" if ok else "FAILED (see above)"
    print(f"\nDemo {verdict} in {time.monotonic() - started:.0f}s")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dag_ids", nargs="*", help="DAGs to run (default: every example DAG)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    args = parser.parse_args(argv)
    # SIGTERM (e.g. CI cancelling) unwinds through the finally blocks that stop our processes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = Path(tempfile.mkdtemp(prefix="drip-demo-"))
    shutil.rmtree(OUTPUT_DIR, ignore_errors=True)
    OUTPUT_DIR.mkdir()
    ok = False
    try:
        ok = run_demo(workdir, args.dag_ids or list(EXAMPLE_DAG_IDS))
    except HarnessError as err:
        print(f"\nDemo could not run: {err}", file=sys.stderr)
    finally:
        if args.keep or not ok:
            print(f"Workspace kept at {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
