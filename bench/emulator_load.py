"""Measure the emulator's throughput: pre-serialised 1000-record subscriber batches posted over
one keep-alive connection to an emulator subprocess with rate limiting off.

    python -m bench.emulator_load --requests 200
    python -m bench.emulator_load --requests 50 --compare     # plain JSON vs gzip, same batches
    python -m bench.emulator_load --requests 50 --compare --records varied   # realistic records

Prints one JSON line per run: requests/s, records/s and the server's resident memory afterwards;
with ``--gzip`` (or ``--compare``) the bodies are gzipped as drip-python does
(``Content-Encoding: gzip``), and the line adds the bytes on the wire per batch and the client's
time to compress one batch. The client is plain ``http.client`` with bodies built (and
compressed) up front, so requests/s is the server's cost (decompress, parse, validate, hash,
store) plus loopback HTTP.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import http.client
import json
import random
import time
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_drip.emulator.runner import run_emulator_subprocess
from airflow_provider_drip.resources import RESOURCES

FIRST = ("Ann", "Bo", "Chen", "Dara", "Eli", "Fatima", "Goran", "Hana", "Ivo", "Jun", "Kofi",
         "Lea", "Mateo", "Nia", "Olek", "Priya", "Quinn", "Rosa", "Sven", "Tariq")  # fmt: skip
LAST = ("Smith", "Garcia", "Nguyen", "Okafor", "Kowalski", "Rossi", "Tanaka", "Haddad", "Berg")
DOMAINS = ("example.com", "mail.example.org", "shop.example.net", "example.co.uk")
ZONES = ("America/Los_Angeles", "America/New_York", "Europe/Berlin", "Asia/Tokyo", "UTC")
TAGS = ("Customer", "Prospect", "VIP", "Newsletter", "Churn risk", "Wholesale", "SEO")


def small_subscriber(n: int, i: int, rng: random.Random) -> dict[str, Any]:
    """The documented baseline's record: tiny and alike, so it compresses unusually well."""
    return {"email": f"user{n}-{i}@example.com", "first_name": "Ann", "tags": ["bench"]}


def varied_subscriber(n: int, i: int, rng: random.Random) -> dict[str, Any]:
    """A record shaped like a real audience export: distinct emails and ids, mixed names, time
    zones, tags and custom fields (seeded, so every run sends the same bytes)."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return {
        "email": f"{first.lower()}.{last.lower()}{rng.randrange(10**6)}@{rng.choice(DOMAINS)}",
        "first_name": first,
        "last_name": last,
        "time_zone": rng.choice(ZONES),
        "tags": rng.sample(TAGS, rng.randint(1, 3)),
        "custom_fields": {
            "customer_id": f"C{n:04d}{i:04d}{rng.randrange(10**4):04d}",
            "lifetime_orders": rng.randint(0, 40),
            "favourite_category": rng.choice(("shoes", "bags", "outdoor", "kitchen", "kids")),
        },
    }


RECORDS = {"small": small_subscriber, "varied": varied_subscriber}


def build_bodies(requests: int, batch_size: int, kind: str = "small") -> list[bytes]:
    """Distinct batches of unique subscribers, compact JSON (as the hook sends them)."""
    subscribers, make, rng = RESOURCES["subscribers"], RECORDS[kind], random.Random(0)
    return [
        json.dumps(
            subscribers.envelope([make(n, i, rng) for i in range(batch_size)]),
            separators=(",", ":"),
        ).encode()
        for n in range(requests)
    ]


def compress_all(bodies: list[bytes], level: int) -> tuple[list[bytes], float]:
    """The gzipped bodies and the mean client time (ms) to compress one."""
    start = time.perf_counter()
    packed = [gzip.compress(body, compresslevel=level, mtime=0) for body in bodies]
    return packed, (time.perf_counter() - start) * 1000 / max(len(bodies), 1)


def run(
    requests: int, batch_size: int, gzip_level: int | None = None, records: str = "small"
) -> dict[str, Any]:
    """Post ``requests`` batches (gzipped at ``gzip_level``, or plain when None); the figures."""
    subscribers = RESOURCES["subscribers"]
    plain = build_bodies(requests, batch_size, records)
    bodies, compress_ms = plain, 0.0
    if gzip_level is not None:
        bodies, compress_ms = compress_all(plain, gzip_level)
    with run_emulator_subprocess(rate_limit=0) as emu:
        parts = urlsplit(emu.url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        path = subscribers.path(emu.account_id)
        headers = {
            "Authorization": "Basic " + base64.b64encode(f"{emu.token}:".encode()).decode(),
            "Content-Type": "application/json",
            "User-Agent": "drip-emulator-bench",
        }
        if gzip_level is not None:
            headers["Content-Encoding"] = "gzip"
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
        "encoding": "identity" if gzip_level is None else f"gzip-{gzip_level}",
        "records": records,
        "requests": requests,
        "batch_size": batch_size,
        "json_bytes_per_batch": round(sum(map(len, plain)) / requests),
        "wire_bytes_per_batch": round(sum(map(len, bodies)) / requests),
        "client_compress_ms_per_batch": round(compress_ms, 2),
        "server_ms_per_batch": round(elapsed * 1000 / requests, 2),
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
    parser.add_argument("--gzip", action="store_true", help="gzip every body (drip-python's way)")
    parser.add_argument("--compare", action="store_true", help="run plain, then gzip")
    parser.add_argument(
        "--records", choices=sorted(RECORDS), default="small",
        help="small: the documented baseline; varied: realistic, for gzip ratios",
    )  # fmt: skip
    parser.add_argument(
        "--gzip-level", type=int, default=9, help="1-9 (default 9, gzip.compress's and so "
        "drip-python's)",
    )  # fmt: skip
    args = parser.parse_args()
    levels: list[int | None] = [None]
    if args.compare:
        levels = [None, args.gzip_level]
    elif args.gzip:
        levels = [args.gzip_level]
    for level in levels:
        print(json.dumps(run(args.requests, args.batch_size, level, args.records)), flush=True)


if __name__ == "__main__":
    main()
