"""Benchmark 6: confirming a big v3 sync with the status sensor, ``verify="all"`` vs ``"sample"``.

20,000 order activities go to the emulator (own process) in 20 batches of 1000 through the real
hook; the emulator processes each batch in time after accepting it (``processing_delay`` then
``seconds_per_record`` per id, in order), however often it is polled. The sensor then waits on
the operator-shaped summary in poke mode; we count the status requests the emulator answered
and the wall time. Every status check costs one of the account's 3,600 non-batch requests an
hour, shared with everything else using the account. Target (issue 16): sample mode confirms
the 20,000 ids with at most 1,000 status requests. No request budget is set on the sensor here
(``max_requests_per_hour=None``) so the wall time is the emulator's processing, not pacing.

    python -m bench.status [--ids 20000] [--delay 2] [--per-record 0.0001]
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from bench.common import Timer, conn_env, emulator, log, table, write_result

TARGET_SAMPLE_REQUESTS = 1000


def _orders(count: int) -> list[dict[str, Any]]:
    return [
        {
            "provider": "bench_store",
            "email": f"buyer{i}@example.com",
            "action": "placed",
            "order_id": f"B-{i:06d}",
            "grand_total": 10.0,
            "items": [{"name": "Widget", "price": 10.0, "quantity": 1}],
        }
        for i in range(count)
    ]


def _summary(ids_per_batch: list[list[str]]) -> dict[str, Any]:
    flat = [i for batch in ids_per_batch for i in batch]
    return {"request_ids": flat, "request_id_batches": [len(b) for b in ids_per_batch]}


def measure(ids: int, delay: float, per_record: float) -> list[dict[str, Any]]:
    from airflow_provider_drip.hooks.drip import DripHook
    from airflow_provider_drip.sensors.drip import DripRequestStatusSensor

    rows = []
    for mode in ("all", "sample"):
        options = {"read_rate_limit": 0, "processing_delay": delay}
        options["seconds_per_record"] = per_record
        with emulator(**options) as handle:
            os.environ.update(conn_env(handle))
            batches = []
            with DripHook() as hook:
                records = _orders(ids)
                for start in range(0, ids, 1000):
                    batches.append(
                        hook.post_batch("order", records[start : start + 1000]).request_ids
                    )
            before = handle.control.stats()["status_counts"].get("200", 0)
            sensor = DripRequestStatusSensor(
                task_id="wait",
                request_ids=_summary(batches),
                verify=mode,
                max_requests_per_hour=None,
                poke_interval=1,
                timeout=3600,
            )
            with Timer() as t:
                result = sensor.execute({"task_state_store": None})
            checks = handle.control.stats()["status_counts"].get("200", 0) - before
            log(f"{mode}: {checks} status requests in {t.seconds:.1f}s")
            rows.append(
                {
                    "verify": mode,
                    "ids": ids,
                    "status_requests": checks,
                    "seconds": t.seconds,
                    "ids_checked": result.get("ids_checked", result["total"]),
                    "completed": result["completed"],
                    "hours_of_the_3600_budget": checks / 3600,
                }
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.status")
    parser.add_argument("--ids", type=int, default=20_000)
    parser.add_argument("--delay", type=float, default=2.0)
    parser.add_argument("--per-record", type=float, default=0.0001)
    args = parser.parse_args(argv)
    rows = measure(args.ids, args.delay, args.per_record)
    text = (
        table(
            ["verify", "ids", "status requests", "seconds", "ids checked", "share of an hour"],
            [
                [
                    r["verify"],
                    r["ids"],
                    r["status_requests"],
                    r["seconds"],
                    r["ids_checked"],
                    r["hours_of_the_3600_budget"],
                ]
                for r in rows
            ],
        )
        + "\n\n(share of an hour: the status requests as a share of the account's 3,600 "
        "non-batch requests per hour)\n"
    )
    sample = next(r for r in rows if r["verify"] == "sample")
    met = sample["status_requests"] <= TARGET_SAMPLE_REQUESTS
    text += f"\n- {'met' if met else 'MISSED'}: sample mode <= {TARGET_SAMPLE_REQUESTS} requests\n"
    print(text)
    write_result("status", {"rows": rows, "target_met": met, "table_markdown": text})
    return 0


if __name__ == "__main__":
    sys.exit(main())
