"""``python -m bench``: run every benchmark in turn, then rewrite docs/bench.md from the results.

    python -m bench [--only NAME,...] [--quick]    (names: see ALL below)

``--quick`` shrinks the inputs (a smoke run; its numbers are not the ones to quote).
"""

from __future__ import annotations

import argparse
import sys
import time

from bench import budget, changed, memory, occupancy, status, throughput, wire
from bench.common import log
from bench.report import write_docs

ALL = ("throughput", "memory", "budget", "occupancy", "changed", "changed-csv", "status", "wire")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--only", default=",".join(ALL), help="comma-separated subset")
    parser.add_argument("--quick", action="store_true", help="small inputs, for a smoke run")
    args = parser.parse_args(argv)
    wanted = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(wanted) - set(ALL))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {ALL}")
    quick = args.quick
    plans = {
        "throughput": (throughput.main,
                       ["--records", "20000", "--rounds", "1", "--no-airflow"] if quick else []),
        "memory": (memory.main, ["--small", "10000", "--large", "100000"] if quick else []),
        "budget": (budget.main, ["--windows", "5"] if quick else []),
        "occupancy": (occupancy.main, ["--windows", "3"] if quick else []),
        "changed": (changed.main, ["--rows", "100000", "--rounds", "1"] if quick else []),
        "changed-csv": (changed.main, ["--format", "csv"]
                        + (["--rows", "100000", "--rounds", "1"] if quick else [])),
        "status": (status.main, ["--ids", "5000"] if quick else []),
        "wire": (wire.main, ["--requests", "20"] if quick else []),
    }  # fmt: skip
    started = time.monotonic()
    for name in wanted:
        fn, extra = plans[name]
        log(f"=== {name} ===")
        t = time.monotonic()
        fn(extra)
        log(f"=== {name} done in {time.monotonic() - t:.0f}s ===")
    if not quick:
        path = write_docs()
        log(f"wrote {path}")
    log(f"all done in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
