"""Measure the emulator's throughput: pre-serialised 1000-record subscriber batches posted over
one keep-alive connection to an emulator subprocess with rate limiting off.

    python -m bench.emulator_load --requests 200

Prints requests/s, records/s and the server's resident memory afterwards. The client is plain
``http.client`` with bodies built up front, so the figure is the server's cost (parse, validate,
hash, store) plus loopback HTTP.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import time
from urllib.parse import urlsplit

from airflow_provider_drip.emulator.runner import run_emulator_subprocess
from airflow_provider_drip.resources import RESOURCES


def run(requests: int, batch_size: int) -> dict[str, float]:
    subscribers = RESOURCES["subscribers"]
    with run_emulator_subprocess(rate_limit=0) as emu:
        parts = urlsplit(emu.url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        path = subscribers.path(emu.account_id)
        headers = {
            "Authorization": "Basic " + base64.b64encode(f"{emu.token}:".encode()).decode(),
            "Content-Type": "application/json",
            "User-Agent": "drip-emulator-bench",
        }
        bodies = [
            json.dumps(
                subscribers.envelope(
                    [{"email": f"user{n}-{i}@example.com", "first_name": "Ann", "tags": ["bench"]}
                     for i in range(batch_size)]
                ),
                separators=(",", ":"),
            ).encode()
            for n in range(requests)
        ]  # fmt: skip
        start = time.perf_counter()
        for n in range(requests):
            conn.request("POST", path, body=bodies[n], headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != subscribers.success_status:
                raise RuntimeError(f"unexpected status {response.status}")
        elapsed = time.perf_counter() - start
        conn.close()
        accepted = emu.control.stats()["resources"]["subscribers"]["records_accepted"]
        rss_mb = _rss_mb(emu.process.pid)  # type: ignore[union-attr]
    return {
        "requests": requests,
        "batch_size": batch_size,
        "body_bytes": len(bodies[0]),
        "seconds": round(elapsed, 3),
        "requests_per_s": round(requests / elapsed, 1),
        "records_per_s": round(accepted / elapsed),
        "server_rss_mb": rss_mb,
    }


def _rss_mb(pid: int) -> float | None:
    """Resident memory of the emulator process (Linux), to show what N records cost."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()
    print(json.dumps(run(args.requests, args.batch_size)))


if __name__ == "__main__":
    main()
