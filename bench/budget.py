"""Benchmark 3: rate-budget use under a live rate limit, with 2% invalid rows.

The emulator (own process) allows ``--limit`` batch requests per ``--window`` seconds; the input
has one invalid row in 50, spread evenly (as a real export's bad rows are). Per window used:
records delivered / (limit x 1000), 429s and 422s. Targets (issue #7) for the provider with
``on_invalid="skip"``: fill >= 0.98, <= 1 429 per window, zero 422s. Compared with a naive loop
(honours Retry-After, logs and skips refused batches) and with drip-nodejs's approach
(``updateBatchSubscribers``: chunks of 1000 all fired concurrently, no rate-limit handling) —
each on the same dirty file, and on a clean copy to separate rate handling from validation.

    python -m bench.budget [--limit 10] [--window 2] [--windows 6]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from bench.common import Timer, emulator, log, table, write_result
from bench.data import jsonl_file
from bench.runners import BATCH, RESOURCE, load_naive, run_naive, run_provider, warm_up

INVALID_EVERY = 50
TARGET_FILL = 0.98
TARGET_429_PER_WINDOW = 1.0


def run_node_style(handle: Any, source: Path) -> dict[str, Any]:
    """drip-nodejs ``updateBatchSubscribers``: split into 1000s, send all at once, no retries."""
    records = load_naive(source)
    bodies = [json.dumps({"batches": [{"subscribers": records[i : i + BATCH]}]})
              for i in range(0, len(records), BATCH)]  # fmt: skip
    url, auth = handle.batch_url(RESOURCE), (handle.token, "")

    def post(body: str) -> int:
        headers = {"Content-Type": "application/json"}
        return requests.post(url, data=body, headers=headers, auth=auth, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        statuses = list(pool.map(post, bodies))
    return {"status_counts": {s: statuses.count(s) for s in set(statuses)}}


def measure(limit: int, window: float, windows: int) -> list[dict[str, Any]]:
    valid = windows * limit * BATCH
    rows = valid * INVALID_EVERY // (INVALID_EVERY - 1)  # so exactly `valid` rows are valid
    dirty, clean = jsonl_file(rows, invalid_every=INVALID_EVERY), jsonl_file(valid)
    out = []
    warm_up()
    with (
        emulator(rate_limit=limit, rate_window=window) as handle,
        tempfile.TemporaryDirectory() as tmp,
    ):
        cases = [
            ("provider (on_invalid=skip)", dirty,
             lambda: run_provider(handle, dirty, on_invalid="skip",
                                  rejects_path=Path(tmp) / "rejects.jsonl",
                                  rate_limit_floor=5.0 * window / 3600)),
            ("naive loop (honours Retry-After)", dirty, lambda: run_naive(handle, dirty)),
            ("drip-nodejs style (all at once)", dirty, lambda: run_node_style(handle, dirty)),
            ("naive loop, clean input", clean, lambda: run_naive(handle, clean)),
            ("drip-nodejs style, clean input", clean, lambda: run_node_style(handle, clean)),
        ]  # fmt: skip
        for name, source, fn in cases:
            handle.control.reset(keep_config=True)
            with Timer() as t:
                fn()
            stats = handle.stats()
            admitted = stats["batch_requests_admitted"]
            used = max(1, math.ceil(admitted / limit))
            accepted = stats["records_accepted"]
            codes = stats["status_counts"]
            res = {
                "case": name,
                "input": source.name,
                "input_rows": rows if source == dirty else valid,
                "valid_rows": valid,
                "records_delivered": accepted,
                "requests_admitted": admitted,
                "windows_used": used,
                "fill": accepted / (used * limit * BATCH),
                "http_429": codes.get("429", 0),
                "http_429_per_window": codes.get("429", 0) / used,
                "http_422": codes.get("422", 0),
                "status_counts": codes,
                "seconds": t.seconds,
                "share_of_max_rate": accepted / t.seconds / (limit * BATCH / window),
            }
            log(f"{name}: {accepted:,} delivered in {t.seconds:.1f}s, statuses {codes}")
            out.append(res)
    return out


def report(limit: int, window: float, results: list[dict[str, Any]]) -> dict[str, Any]:
    rows = []
    for r in results:
        provider = r["case"].startswith("provider")
        r["meets_targets"] = (
            r["fill"] >= TARGET_FILL
            and r["http_429_per_window"] <= TARGET_429_PER_WINDOW
            and r["http_422"] == 0
            and r["records_delivered"] == r["valid_rows"]
        ) if provider else None  # fmt: skip
        rows.append([r["case"], f"{r['records_delivered']:,} / {r['valid_rows']:,}",
                     r["windows_used"], f"{r['fill']:.3f}", f"{r['http_429_per_window']:.2f}",
                     r["http_422"], round(r["seconds"], 1), f"{r['share_of_max_rate']:.2f}",
                     r["meets_targets"]])  # fmt: skip
    headers = ["case", "delivered / valid", "windows", "fill", "429/window", "422s", "seconds",
               "of max rate", "targets met"]  # fmt: skip
    text = table(headers, rows)
    print(f"\nRate budget: {limit} batch requests per {window:g}s window, 1 row in "
          f"{INVALID_EVERY} invalid\n")  # fmt: skip
    print(text)
    print(
        "\nfill = delivered / (windows used x limit x 1000); 'of max rate' = delivered/s "
        "over the limit's records/s, wall clock (Retry-After is whole seconds)."
    )
    return {"limit": limit, "window_s": window, "invalid_every": INVALID_EVERY,
            "targets": {"fill": TARGET_FILL, "http_429_per_window": TARGET_429_PER_WINDOW,
                        "http_422": 0},
            "results": results, "table_markdown": text}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.budget")
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--window", type=float, default=2.0)
    parser.add_argument("--windows", type=int, default=6, help="full windows of valid records")
    args = parser.parse_args(argv)
    results = measure(args.limit, args.window, args.windows)
    path = write_result("budget", report(args.limit, args.window, results))
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
