"""Deterministic subscriber datasets (JSONL and CSV), generated once and cached on disk.

Records look like a real CRM export: email, names, location, tags, two custom fields, a lifetime
value. With ``invalid_every=N`` every N-th row has a malformed email (Drip answers 422 for the
whole batch if it is sent).
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from bench.common import DATA_DIR

FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson"]
CITIES = [("Portland", "US"), ("Berlin", "DE"), ("Lyon", "FR"), ("Osaka", "JP"), ("Leeds", "GB")]
ZONES = ["America/Los_Angeles", "Europe/Berlin", "Europe/Paris", "Asia/Tokyo", "Europe/London"]
TAGS = ["customer", "newsletter", "vip", "trial", "churn-risk", "wholesale"]
PLANS = ["free", "basic", "pro", "enterprise"]
CSV_COLUMNS = [
    "email", "first_name", "last_name", "city", "country", "time_zone", "tags",
    "plan", "signup_source", "lifetime_value", "prospect",
]  # fmt: skip
CSV_FIELD_MAP = {"plan": "custom_fields.plan", "signup_source": "custom_fields.signup_source"}
CSV_LIST_DELIMITER = "|"


def subscriber(i: int, rng: random.Random, invalid: bool = False) -> dict:
    first, last = FIRST[i % len(FIRST)], LAST[(i // 7) % len(LAST)]
    city, country = CITIES[i % len(CITIES)]
    email = f"{first}.{last}.{i}@example.com".lower()
    if invalid:
        email = f"{first}.{last}.{i} at example dot com"
    return {
        "email": email,
        "first_name": first,
        "last_name": last,
        "city": city,
        "country": country,
        "time_zone": ZONES[i % len(ZONES)],
        "tags": rng.sample(TAGS, 2),
        "custom_fields": {"plan": PLANS[i % len(PLANS)], "signup_source": f"campaign-{i % 97}"},
        "lifetime_value": rng.randrange(0, 50_000),  # cents (an integer, per the docs)
        "prospect": i % 3 == 0,
    }


def _path(kind: str, n: int, invalid_every: int) -> Path:
    suffix = f"-bad{invalid_every}" if invalid_every else ""
    return DATA_DIR / f"subscribers-{n}{suffix}.{kind}"


def _cached(path: Path, write: Callable[[TextIO], None], newline: str | None = None) -> Path:
    """``path``, written once by ``write`` (through a temporary file, so never half-written)."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8", newline=newline) as f:
        write(f)
    tmp.rename(path)
    return path


def _rows(n: int, invalid_every: int) -> Iterator[dict]:
    rng = random.Random(n)
    for i in range(n):
        bad = bool(invalid_every) and i % invalid_every == invalid_every - 1
        yield subscriber(i, rng, bad)


def jsonl_file(n: int, invalid_every: int = 0) -> Path:
    """``n`` subscribers as JSON Lines (cached)."""

    def write(f: TextIO) -> None:
        for r in _rows(n, invalid_every):
            f.write(json.dumps(r, separators=(",", ":")) + "\n")

    return _cached(_path("jsonl", n, invalid_every), write)


def csv_file(n: int, invalid_every: int = 0) -> Path:
    """The same subscribers as CSV: flat columns, tags joined with ``|`` (cached)."""

    def write(f: TextIO) -> None:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for r in _rows(n, invalid_every):
            writer.writerow(
                [r["email"], r["first_name"], r["last_name"], r["city"], r["country"],
                 r["time_zone"], CSV_LIST_DELIMITER.join(r["tags"]),
                 r["custom_fields"]["plan"], r["custom_fields"]["signup_source"],
                 r["lifetime_value"], "true" if r["prospect"] else "false"]
            )  # fmt: skip

    return _cached(_path("csv", n, invalid_every), write, newline="")
