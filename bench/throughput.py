"""Benchmark 1: pipeline throughput (records/s) against a naive script and the server's ceiling.

All figures include the emulator's own work (it runs in a separate process, rate limit off), so
the naive script can be beaten by at most ceiling/naive. Targets (issue #7): provider ≥ 1.5x the
naive baseline and ≥ 0.5 of the ceiling. Rows are measured interleaved, ``--rounds`` times; each
ratio is taken within a round and the table shows its median over the rounds (see ``report``).

    python -m bench.throughput [--records 200000] [--rounds 5] [--no-airflow]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import Timer, emulator, log, table, write_result
from bench.data import CSV_FIELD_MAP, CSV_LIST_DELIMITER, csv_file, jsonl_file
from bench.runners import ceiling_bodies, run_ceiling, run_naive, run_provider

TARGET_VS_NAIVE = 1.5
TARGET_VS_CEILING = 0.5


def _without_gil_hand_over(fn: Callable[[], Any]) -> Callable[[], Any]:
    """Diagnostic: the background pass keeps the GIL until the 5 ms switch interval runs out."""

    def run() -> Any:
        from airflow_provider_drip.records import pipeline

        every = pipeline.HAND_OVER_GIL_EVERY
        pipeline.HAND_OVER_GIL_EVERY = 0
        try:
            return fn()
        finally:
            pipeline.HAND_OVER_GIL_EVERY = every

    return run


def measure(records: int, rounds: int, with_airflow: bool) -> dict[str, Any]:
    """Every row once per round, interleaved, so slow and fast spells of the VM hit all rows."""
    jsonl, csv = jsonl_file(records), csv_file(records)
    csv_opts: dict[str, Any] = {"field_map": CSV_FIELD_MAP, "list_delimiter": CSV_LIST_DELIMITER}
    samples: dict[str, list[float]] = {}
    notes: dict[str, str] = {}
    with emulator() as handle, _airflow(handle, jsonl, with_airflow) as env:
        bodies = ceiling_bodies(jsonl)
        run_provider(handle, jsonl_file(2000))  # warm-up: imports Airflow, untimed
        run_naive(handle, jsonl_file(2000))
        csv_skip = lambda: run_provider(handle, csv, on_invalid="skip", **csv_opts)  # noqa: E731
        cases: list[tuple[str, str, Callable[[], Any]]] = [
            ("ceiling", "pre-serialised bodies, one keep-alive connection",
             lambda: run_ceiling(handle, bodies)),
            ("naive jsonl", "list + json.dumps + requests.post per 1000, no session",
             lambda: run_naive(handle, jsonl)),
            ("provider jsonl (on_invalid=fail, default)", "validates all first, then sends",
             lambda: run_provider(handle, jsonl)),
            ("provider jsonl (on_invalid=skip)", "one streaming pass",
             lambda: run_provider(handle, jsonl, on_invalid="skip")),
            ("naive csv", "DictReader into a list, reshaped by hand",
             lambda: run_naive(handle, csv)),
            ("provider csv (on_invalid=skip)", "field_map + coercion", csv_skip),
            ("provider csv (skip), no GIL hand-over",
             "diagnostic: HAND_OVER_GIL_EVERY = 0", _without_gil_hand_over(csv_skip)),
        ]  # fmt: skip
        if env is not None:
            note = "airflow dags test; the operator's summary duration_s"
            cases += [
                ("in Airflow task: operator (on_invalid=fail, default)", note,
                 lambda: _in_task(env, "fail")),
                ("in Airflow task: operator (on_invalid=skip)", note,
                 lambda: _in_task(env, "skip")),
            ]  # fmt: skip
        for round_no in range(rounds):
            for name, note, fn in cases:
                handle.control.reset(keep_config=True)
                with Timer() as t:
                    seconds = fn()  # in-task rows return their operator's own duration
                if not isinstance(seconds, float):
                    seconds = t.seconds
                stats = handle.stats()
                if stats["records_accepted"] != records:
                    raise RuntimeError(f"{name}: emulator accepted {stats['records_accepted']}")
                samples.setdefault(name, []).append(seconds)
                notes[name] = note
                log(f"round {round_no + 1} {name}: {seconds:.2f}s")
    return {"samples": samples, "notes": notes}


@contextmanager
def _airflow(handle: Any, jsonl: Path, wanted: bool) -> Iterator[Any]:
    """A throw-away Airflow whose ``drip_default`` is the emulator (None with ``--no-airflow``)."""
    if not wanted:
        yield None
        return
    from bench.airflow import airflow_env

    extra = {
        "AIRFLOW_CONN_DRIP_DEFAULT": handle.airflow_conn_json(),
        "DRIP_BENCH_SOURCE": str(jsonl),
    }
    with airflow_env(extra) as env:
        yield env


def _in_task(env: Any, on_invalid: str) -> float:
    """The operator inside a real task (``airflow dags test``), timed by its own summary: the
    command's wall time is mostly Airflow starting up."""
    from bench.airflow import dags_test_summary

    summary = dags_test_summary(env, "drip_bench_throughput", DRIP_BENCH_ON_INVALID=on_invalid)
    return float(summary["duration_s"])


def report(records: int, measured: dict[str, Any]) -> dict[str, Any]:
    """Ratios are taken round by round (the rows of one round run within about a minute, so a
    fast or slow spell of the VM hits them alike) and summarised by their median over the rounds.

    A best-of-rounds ratio compares each row's luckiest sample; the ceiling, the shortest row,
    is the likeliest to fall entirely in a fast spell (10:00 run: 1.74 s against 2.40-3.33 s),
    which moved every ÷ ceiling figure by about a third. Both are in the JSON.
    """
    samples, notes = measured["samples"], measured["notes"]
    ceiling, naive = samples["ceiling"], samples["naive jsonl"]
    rows, results = [], []
    for name, values in samples.items():
        base = samples["naive csv"] if "csv" in name else naive
        vs_naive = [b / v for b, v in zip(base, values, strict=True)]
        vs_ceiling = [c / v for c, v in zip(ceiling, values, strict=True)]
        med_naive, med_ceiling = statistics.median(vs_naive), statistics.median(vs_ceiling)
        is_provider = "provider" in name or "Airflow" in name
        rounds_met = sum(
            n >= TARGET_VS_NAIVE and c >= TARGET_VS_CEILING
            for n, c in zip(vs_naive, vs_ceiling, strict=True)
        )
        meets = med_naive >= TARGET_VS_NAIVE and med_ceiling >= TARGET_VS_CEILING
        median_s = statistics.median(values)
        best = min(values)
        rows.append([name, median_s, best, round(records / median_s), f"{med_naive:.2f}x",
                     f"{med_ceiling:.2f}", f"{min(vs_ceiling):.2f}",
                     f"{rounds_met}/{len(values)}" if is_provider else None,
                     meets if is_provider else None])  # fmt: skip
        results.append({"case": name, "note": notes[name],
                        "median_seconds": round(median_s, 3), "best_seconds": round(best, 3),
                        "samples_s": [round(x, 3) for x in values],
                        "records_per_s": round(records / median_s),
                        "vs_naive": round(med_naive, 3), "vs_ceiling": round(med_ceiling, 3),
                        "vs_naive_by_round": [round(x, 3) for x in vs_naive],
                        "vs_ceiling_by_round": [round(x, 3) for x in vs_ceiling],
                        "best_of_rounds": {"vs_naive": round(min(base) / best, 3),
                                           "vs_ceiling": round(min(ceiling) / best, 3)},
                        "rounds_meeting_targets": rounds_met if is_provider else None,
                        "meets_targets": meets if is_provider else None})  # fmt: skip
    headers = ["case", "median s", "best s", "records/s", "x naive", "÷ ceiling",
               "÷ ceiling, worst round", "rounds met", "targets met"]  # fmt: skip
    text = table(headers, rows)
    gain = statistics.median(n / c for n, c in zip(naive, ceiling, strict=True))
    print(f"\nThroughput: {records:,} subscribers, emulator in its own process, rate limit off")
    print("Ratios: per round (rows interleaved), median over the rounds")
    print(f"(max possible gain over naive = ceiling/naive = {gain:.2f}x)\n")
    print(text)
    return {
        "records": records,
        "rounds": len(ceiling),
        "statistic": "median over rounds of the ratio within each round",
        "targets": {"vs_naive": TARGET_VS_NAIVE, "vs_ceiling": TARGET_VS_CEILING},
        "max_gain_over_naive": round(gain, 3),
        "results": results,
        "table_markdown": text,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.throughput")
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-airflow", action="store_true", help="skip the in-task runs")
    args = parser.parse_args(argv)
    measured = measure(args.records, args.rounds, not args.no_airflow)
    path = write_result("throughput", report(args.records, measured))
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
