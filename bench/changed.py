"""Benchmark 5: change-only syncs on a big table (issue 15).

A 1,000,000-row subscriber source, a 1,000,000-key sync state of it, and the same source with
2% of the rows changed. Each pass runs in a fresh child process (peak RSS = its ``VmHWM``) and
goes through the real record pipeline to the chunks a sync would send, without HTTP (the
batches are what costs Drip's budget; the send itself is benchmark 1's business):

- ``full``: full mode's validation pass over the changed source (``check()`` with the default
  ``on_invalid="fail"``: validate, serialise, chunk, spool);
- ``changed``: changed mode's validation pass over it against the state (the same, plus
  loading the state, and the content digest and state lookup of every record).

Targets: batch requests in changed mode = ceil(changed / 1000); changed pass <= 1.5x the full
pass; state on disk <= 24 bytes per key; peak RSS <= 64 MB above full mode.

    python -m bench.changed [--rows 1000000] [--changed-every 50]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import Timer, log, table, write_result
from bench.data import CSV_FIELD_MAP, CSV_LIST_DELIMITER, csv_file, jsonl_file
from bench.memory import _rss_mb

ACCOUNT = "9999999"
STATE_KEY = "bench.changed"


def changed_file(original: Path, every: int) -> Path:
    """``original`` with every ``every``-th row's plan changed (cached)."""
    path = original.with_name(f"{original.stem}-changed{every}{original.suffix}")
    if path.exists():
        return path
    tmp = path.with_suffix(".tmp")
    with original.open(newline="") as source, tmp.open("w", newline="") as out:
        if original.suffix == ".csv":
            reader = csv.DictReader(source)
            writer = csv.DictWriter(out, fieldnames=reader.fieldnames or [])
            writer.writeheader()
            for i, row in enumerate(reader):
                if i % every == 0:
                    row["plan"] = "changed"
                writer.writerow(row)
        else:
            for i, line in enumerate(source):
                if i % every == 0:
                    record = json.loads(line)
                    record["custom_fields"]["plan"] = "changed"
                    line = json.dumps(record) + "\n"
                out.write(line)
    tmp.replace(path)
    return path


def _pipeline(source: Path, change_filter: Any = None, on_invalid: str = "skip") -> Any:
    from airflow_provider_drip.records import RecordPipeline

    options: dict[str, Any] = {}
    if source.suffix == ".csv":
        options = {"field_map": CSV_FIELD_MAP, "list_delimiter": CSV_LIST_DELIMITER}
    pipeline = RecordPipeline("subscribers", source=str(source), on_invalid=on_invalid, **options)
    pipeline.change_filter = change_filter
    return pipeline


def build_state(source: Path, state_path: Path) -> dict[str, Any]:
    """Sync state of ``source`` as a first changed-mode run would leave it (every row sent)."""
    from airflow_provider_drip.resources import get_resource
    from airflow_provider_drip.state import PayloadDigester, SyncStateStore, key_spec_for
    from airflow_provider_drip.sync.changes import ChangeTracker

    state = SyncStateStore.open(state_path, ACCOUNT, "subscribers", STATE_KEY)
    digester = PayloadDigester(key_spec_for(get_resource("subscribers")))
    tracker = ChangeTracker(state, digester, send_all=True)
    with Timer() as t:
        for chunk in _pipeline(source).chunks():
            tracker.accepted(chunk)
        tracker.commit()
    info = SyncStateStore.info(state_path, ACCOUNT, "subscribers", STATE_KEY)
    return {"keys": info.count, "bytes": info.size_bytes, "seconds": t.seconds}


def child(kind: str, source: str, state_path: str) -> None:
    """Runs in the child: one pass, then JSON with time, batches and peak RSS."""
    # both passes import what the operator imports, so the RSS compares data, not modules
    import airflow_provider_drip.records  # noqa: F401
    from airflow_provider_drip.resources import get_resource
    from airflow_provider_drip.state import PayloadDigester, SyncStateStore, key_spec_for
    from airflow_provider_drip.sync.changes import ChangeTracker

    after_imports = _rss_mb()
    batches = records = 0
    with Timer() as t:
        change_filter = None
        if kind == "changed":  # loading the state is part of a changed-mode pass
            state = SyncStateStore.open(state_path, ACCOUNT, "subscribers", STATE_KEY)
            digester = PayloadDigester(key_spec_for(get_resource("subscribers")))
            change_filter = ChangeTracker(state, digester, send_all=False)
        # on_invalid="fail" (the default): the validation pass a sync runs before its first
        # request
        pipeline = _pipeline(Path(source), change_filter, on_invalid="fail")
        pipeline.check()
    for chunk in pipeline.chunks():  # replays check()'s spool: what the sync would send
        batches += 1
        records += len(chunk)
    result = {
        "seconds": t.seconds,
        "batches": batches,
        "records_to_send": records,
        "records_unchanged": pipeline.stats.records_unchanged,
        "rss_after_imports_mb": after_imports,
        "peak_rss_mb": _rss_mb(),
    }
    print(json.dumps(result), flush=True)


def _run_child(kind: str, source: Path, state_path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.changed", "--child", kind, str(source), str(state_path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.changed")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--changed-every", type=int, default=50, help="50: 2% of rows")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    original = (csv_file if args.format == "csv" else jsonl_file)(args.rows)
    changed = changed_file(original, args.changed_every)
    expected_changed = math.ceil(args.rows / args.changed_every)
    with tempfile.TemporaryDirectory(prefix="drip-bench-state-") as tmp:
        state_path = Path(tmp)
        log(f"building a {args.rows:,}-key state from {original.name}")
        built = build_state(original, state_path)
        runs: dict[str, list[dict[str, Any]]] = {"full": [], "changed": []}
        for n in range(args.rounds):
            for kind in ("full", "changed"):
                result = _run_child(kind, changed, state_path)
                log(f"round {n + 1} {kind}: {result['seconds']:.2f}s, {result['batches']} batches")
                runs[kind].append(result)
    full = sorted(runs["full"], key=lambda r: r["seconds"])[len(runs["full"]) // 2]
    chg = sorted(runs["changed"], key=lambda r: r["seconds"])[len(runs["changed"]) // 2]
    ratios = sorted(
        c["seconds"] / f["seconds"] for f, c in zip(runs["full"], runs["changed"], strict=True)
    )
    time_ratio = ratios[len(ratios) // 2]
    bytes_per_key = built["bytes"] / built["keys"]
    rss_above = max(r["peak_rss_mb"] for r in runs["changed"]) - max(
        r["peak_rss_mb"] for r in runs["full"]
    )
    targets = {
        "batches == ceil(changed/1000)": chg["batches"] == math.ceil(expected_changed / 1000),
        "changed pass <= 1.5x full": time_ratio <= 1.5,
        "state <= 24 bytes/key": bytes_per_key <= 24,
        "peak RSS <= full + 64 MB": rss_above <= 64,
    }
    rows = [
        ["full mode pass", f"{full['seconds']:.2f}", full["batches"], full["peak_rss_mb"]],
        ["changed mode pass", f"{chg['seconds']:.2f}", chg["batches"], chg["peak_rss_mb"]],
    ]
    text = table(["pass (median of rounds)", "seconds", "batch requests", "peak RSS MB"], rows)
    text += (
        f"\n\nFormat {args.format}, {args.rows:,} rows, {expected_changed:,} changed. "
        f"Changed/full time (median of per-round ratios): {time_ratio:.2f}. State "
        f"{built['bytes']:,} bytes for {built['keys']:,} keys = {bytes_per_key:.1f} B/key. "
        f"Peak RSS {rss_above:+.1f} MB vs full mode.\n\n"
    )
    text += "".join(f"- {'met' if ok else 'MISSED'}: {name}\n" for name, ok in targets.items())
    print(text)
    write_result(
        "changed" if args.format == "jsonl" else f"changed-{args.format}",
        {
            "format": args.format,
            "rows": args.rows,
            "changed_rows": expected_changed,
            "state": built,
            "bytes_per_key": bytes_per_key,
            "time_ratio_median": time_ratio,
            "rss_above_full_mb": rss_above,
            "runs": runs,
            "targets": targets,
            "table_markdown": text,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
