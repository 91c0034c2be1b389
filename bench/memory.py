"""Benchmark 2: peak memory (RSS) for 100k vs 1,000,000 records, provider vs naive script.

The provider runs twice: from the file (``source=``) and from a generator of the same records
(``records=``, as an upstream task may hand over; issue 14 #5).

Each run is a fresh child process (peak RSS = its ``VmHWM``) that sends the whole file to the
emulator (own process, rate limit off). Target (issue #7): provider peak(1M) / peak(100k) <= 1.2.

    python -m bench.memory [--small 100000] [--large 1000000]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.common import Timer, emulator, log, table, write_result
from bench.data import jsonl_file

TARGET_RATIO = 1.2


def _rss_mb() -> float:
    """Peak RSS of this process image in MB: ``VmHWM`` (reset by exec, unlike ``ru_maxrss``,
    which on Linux keeps the forking parent's high-water mark across exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(kind: str, source: Path, url: str, account: str, token: str) -> None:
    """Runs in the child: import everything, note the RSS, send the file, print JSON."""
    from airflow_provider_drip.emulator.control import EmulatorControl
    from airflow_provider_drip.emulator.testing import EmulatorHandle
    from bench.runners import run_naive, run_provider

    handle = EmulatorHandle(url, account, token, EmulatorControl(url))
    if kind.startswith("provider"):
        for module in ("airflow_provider_drip.hooks.drip", "airflow_provider_drip.sync.loop"):
            importlib.import_module(module)  # Airflow's import cost is not the data's
    after_imports = _rss_mb()
    with Timer() as t:
        if kind.startswith("provider"):
            generator = kind == "provider-generator"
            summary = run_provider(handle, source, on_invalid="skip", as_generator=generator)
            sent = summary["records_sent"]
        else:
            sent = run_naive(handle, source)["records_sent"]
    result = {"rss_after_imports_mb": after_imports, "peak_rss_mb": _rss_mb(),
              "records_sent": sent, "seconds": t.seconds}  # fmt: skip
    print(json.dumps(result), flush=True)


def _run_child(kind: str, source: Path, handle: Any) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.memory", "--child", kind, "--source", str(source),
           "--url", handle.url, "--account", handle.account_id]  # fmt: skip
    env = {**os.environ, "DRIP_BENCH_TOKEN": handle.token}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"memory child {kind} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(small: int, large: int) -> dict[str, Any]:
    files = {n: jsonl_file(n) for n in (small, large)}
    runs: dict[str, dict[int, dict[str, Any]]] = {}
    with emulator() as handle:
        for kind in ("provider", "provider-generator", "naive"):
            for n, path in files.items():
                handle.control.reset(keep_config=True)
                res = _run_child(kind, path, handle)
                if res["records_sent"] != n or handle.stats()["records_accepted"] != n:
                    raise RuntimeError(f"{kind} {n}: not every record was delivered: {res}")
                log(f"{kind} {n:,}: peak {res['peak_rss_mb']:.0f} MB in {res['seconds']:.1f}s")
                runs.setdefault(kind, {})[n] = res
    return runs


def report(small: int, large: int, runs: dict[str, Any]) -> dict[str, Any]:
    rows, results = [], []
    for kind, by_n in runs.items():
        s, big = by_n[small], by_n[large]
        ratio = big["peak_rss_mb"] / s["peak_rss_mb"]
        growth = big["peak_rss_mb"] - s["peak_rss_mb"]
        meets = ratio <= TARGET_RATIO if kind.startswith("provider") else None
        rows.append([kind, round(s["rss_after_imports_mb"]), round(s["peak_rss_mb"]),
                     round(big["peak_rss_mb"]), f"{ratio:.2f}", round(growth), meets])  # fmt: skip
        results.append({"approach": kind, "small": s, "large": big,
                        "ratio": round(ratio, 3), "growth_mb": round(growth, 1),
                        "meets_target": meets})  # fmt: skip
    headers = ["approach", "RSS after imports MB", f"peak {small:,} MB", f"peak {large:,} MB",
               "ratio", "growth MB", f"ratio <= {TARGET_RATIO}"]  # fmt: skip
    text = table(headers, rows)
    print(f"\nMemory: peak RSS of a child process sending {small:,} vs {large:,} subscribers\n")
    print(text)
    return {"small": small, "large": large, "target_ratio": TARGET_RATIO,
            "results": results, "table_markdown": text}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory")
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument(
        "--child", choices=("provider", "provider-generator", "naive"), help=argparse.SUPPRESS
    )
    parser.add_argument("--source", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--account", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, Path(args.source), args.url, args.account, os.environ["DRIP_BENCH_TOKEN"])
        return 0
    runs = measure(args.small, args.large)
    path = write_result("memory", report(args.small, args.large, runs))
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
