"""Measure the sync state at scale (not collected by pytest; numbers for the report/bench).

    .venv/bin/python tests/unit/state/measure_state.py 1000000 /tmp/drip-state-measure

Phases run in separate processes so each peak RSS is its own: ``build`` (a first run that
accepts every key, then one commit), ``changed`` (open, digest and classify every record with
2% changed, accept the changed ones, commit). Prints one JSON line per phase.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _records(n: int, changed_every: int = 0):
    for i in range(n):
        version = 1 if changed_every and i % changed_every == 0 else 0
        yield {
            "email": f"user{i}@example.com",
            "first_name": "Ann",
            "last_name": f"Smith{i % 977}",
            "custom_fields": {"plan": "gold", "version": version},
            "tags": ["customer"],
        }


def phase(name: str, n: int, base: str) -> dict:
    from airflow_provider_drip.state import RecordDigester, SyncStateStore, key_spec_for

    digester = RecordDigester(key_spec_for("subscribers"))
    baseline = _rss_mb()
    out: dict = {"phase": name, "keys": n, "baseline_rss_mb": round(baseline, 1)}
    t0 = time.perf_counter()
    if name == "build":
        state = SyncStateStore.open(base, "1", "subscribers", "measure", full_refresh=True)
        t1 = time.perf_counter()
        state.mark_accepted(digester.digests(r) for r in _records(n))
        t2 = time.perf_counter()
        state.commit()
        t3 = time.perf_counter()
        out.update(digest_and_mark_s=round(t2 - t1, 2), commit_s=round(t3 - t2, 2))
    else:
        state = SyncStateStore.open(base, "1", "subscribers", "measure")
        t1 = time.perf_counter()
        counts = {"new": 0, "changed": 0, "unchanged": 0}
        accepted = []
        classify, digests = state.classify, digester.digests
        digest_s = classify_s = 0.0
        clock = time.perf_counter
        for r in _records(n, changed_every=50):
            d0 = clock()
            d = digests(r)
            d1 = clock()
            verdict = classify(*d)
            classify_s += clock() - d1
            digest_s += d1 - d0
            counts[verdict] += 1
            if verdict != "unchanged":
                accepted.append(d)
        t2 = time.perf_counter()
        state.mark_accepted(accepted)
        state.commit()
        t3 = time.perf_counter()
        out.update(
            open_s=round(t1 - t0, 2),
            digest_and_classify_s=round(t2 - t1, 2),
            of_which_digest_s=round(digest_s, 2),
            of_which_classify_s=round(classify_s, 2),
            commit_s=round(t3 - t2, 2),
            **counts,
        )
    info = SyncStateStore.info(base, "1", "subscribers", "measure")
    out.update(
        size_bytes=info.size_bytes,
        bytes_per_key=round(info.bytes_per_key or 0, 3),
        peak_rss_mb=round(_peak_mb(), 1),
        peak_above_baseline_mb=round(_peak_mb() - baseline, 1),
    )
    return out


def main() -> None:
    if len(sys.argv) == 4:
        print(json.dumps(phase(sys.argv[3], int(sys.argv[1]), sys.argv[2])))
        return
    n, base = int(sys.argv[1]), sys.argv[2]
    os.makedirs(base, exist_ok=True)
    for name in ("build", "changed"):
        subprocess.run([sys.executable, __file__, str(n), base, name], check=True)


if __name__ == "__main__":
    main()
