"""The three ways of sending a file to Drip that every benchmark compares.

- ``run_provider``: the provider's own path — ``RecordPipeline`` → ``BatchSync`` → ``DripHook``,
  exactly as the operator wires them (minus Airflow).
- ``run_naive``: what most users write first — load the file into a list, ``json.dumps`` each
  1000-record slice and ``requests.post`` it without a session (a new connection per request).
- ``run_ceiling``: the server's own limit — bodies serialised beforehand (untimed), posted in a
  tight loop over one keep-alive ``http.client`` connection.
"""

from __future__ import annotations

import csv
import http.client
import json
import logging
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from airflow_provider_drip.emulator.testing import EmulatorHandle

BATCH = 1000
RESOURCE = "subscribers"


def use_connection(handle: EmulatorHandle, conn_id: str = "drip_default") -> None:
    """Point Airflow's ``drip_default`` connection at the emulator (environment variable)."""
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = handle.airflow_conn_json()


def warm_up() -> None:
    """Import the provider (and so Airflow) before anything is timed."""
    import importlib

    for module in ("airflow_provider_drip.hooks.drip", "airflow_provider_drip.sync.loop",
                   "airflow_provider_drip.records"):  # fmt: skip
        importlib.import_module(module)


def run_provider(
    handle: EmulatorHandle,
    source: Path,
    *,
    on_invalid: str = "fail",
    field_map: dict[str, str] | None = None,
    list_delimiter: str = ",",
    rejects_path: Path | None = None,
    max_rate_limit_wait: float = 3900.0,
    prefetch_depth: int | None = None,
    rate_limit_floor: float | None = None,
    as_generator: bool = False,
) -> dict[str, Any]:
    """Send ``source`` with the provider's pipeline, sync loop and hook; returns the summary.

    ``as_generator`` feeds the file's records as a generator (``records=``) instead of
    ``source=``. ``rate_limit_floor`` scales the provider's 5 s floor under rate-limit waits to
    a short test window, as 5 s is to Drip's hour (a 2 s window with the real floor would
    measure the floor).
    """
    from airflow_provider_drip.hooks.drip import DripHook
    from airflow_provider_drip.records import RecordPipeline
    from airflow_provider_drip.resources import get_resource
    from airflow_provider_drip.sync.checkpoint import MemoryCheckpoint
    from airflow_provider_drip.sync.loop import BatchSync, SyncOptions

    use_connection(handle)
    logger = logging.getLogger("bench.provider")
    logger.setLevel(logging.WARNING)  # progress lines go nowhere: we time the work, not the log
    input_kw: dict[str, Any] = {"source": str(source)}
    if as_generator:  # records= a one-shot generator, as an upstream task may hand over
        input_kw = {"records": (json.loads(line) for line in source.open("rb"))}
    pipeline = RecordPipeline(
        resource=RESOURCE,
        **input_kw,
        on_invalid=on_invalid,
        field_map=field_map,
        list_delimiter=list_delimiter,
        rejects_path=str(rejects_path) if rejects_path else None,
    )
    options: dict[str, Any] = {"max_rate_limit_wait": max_rate_limit_wait}
    if prefetch_depth is not None:
        options["prefetch_depth"] = prefetch_depth
    hook = DripHook("drip_default")
    if rate_limit_floor is not None:
        options["min_rate_limit_wait"] = rate_limit_floor
        hook.batch_rate_limit_floor_s = rate_limit_floor
    sync = BatchSync(
        hook=hook,
        pipeline=pipeline,
        resource=get_resource(RESOURCE),
        fingerprint=pipeline.fingerprint(),
        checkpoint=MemoryCheckpoint(f"bench-{time.monotonic_ns()}"),
        options=SyncOptions(**options),
        account_id=handle.account_id,
        logger=logger,
    )
    try:
        outcome = sync.run()
    finally:
        hook.close()
    assert outcome.summary is not None, "the benchmark sync should never defer"
    return outcome.summary


def load_naive(source: Path) -> list[dict[str, Any]]:
    """The whole file in a list, as most scripts do (CSV rows reshaped by hand)."""
    if source.suffix == ".csv":
        records = []
        with source.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                records.append(
                    {
                        "email": row["email"],
                        "first_name": row["first_name"],
                        "last_name": row["last_name"],
                        "city": row["city"],
                        "country": row["country"],
                        "time_zone": row["time_zone"],
                        "tags": row["tags"].split("|"),
                        "custom_fields": {
                            "plan": row["plan"],
                            "signup_source": row["signup_source"],
                        },
                        "lifetime_value": int(row["lifetime_value"]),
                        "prospect": row["prospect"] == "true",
                    }
                )
        return records
    with source.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def run_naive(
    handle: EmulatorHandle, source: Path, *, on_429: str = "sleep", on_error: str = "continue"
) -> dict[str, Any]:
    """The naive script: list in memory, ``requests.post`` per 1000 without a session.

    ``on_429="sleep"`` honours ``Retry-After`` and resends (a careful naive script);
    ``on_error="continue"`` logs a refused batch and moves on (its records are lost).
    """
    records = load_naive(source)
    url = handle.batch_url(RESOURCE)
    auth = (handle.token, "")
    headers = {"Content-Type": "application/json"}
    counts: dict[int, int] = {}
    sent = 0
    for i in range(0, len(records), BATCH):
        body = json.dumps({"batches": [{"subscribers": records[i : i + BATCH]}]})
        while True:
            r = requests.post(url, data=body, headers=headers, auth=auth, timeout=60)
            counts[r.status_code] = counts.get(r.status_code, 0) + 1
            if r.status_code == 429 and on_429 == "sleep":
                time.sleep(float(r.headers.get("Retry-After", "1")))
                continue
            break
        if r.status_code < 300:
            sent += len(records[i : i + BATCH])
        elif on_error != "continue":
            r.raise_for_status()
    return {"records_sent": sent, "records_total": len(records), "status_counts": counts}


def ceiling_bodies(source: Path) -> list[bytes]:
    """Pre-serialised 1000-record bodies (not timed)."""
    records = load_naive(source)
    return [
        json.dumps(
            {"batches": [{"subscribers": records[i : i + BATCH]}]}, separators=(",", ":")
        ).encode()
        for i in range(0, len(records), BATCH)
    ]


def run_ceiling(handle: EmulatorHandle, bodies: list[bytes]) -> dict[str, Any]:
    """Post ready bodies back to back over one keep-alive connection; returns timing."""
    parts = urlsplit(handle.batch_url(RESOURCE))
    headers = {**handle.headers(), "Connection": "keep-alive"}
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    counts: dict[int, int] = {}
    started = time.perf_counter()
    try:
        for body in bodies:
            conn.request("POST", parts.path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            counts[response.status] = counts.get(response.status, 0) + 1
    finally:
        conn.close()
    return {"seconds": time.perf_counter() - started, "status_counts": counts}
