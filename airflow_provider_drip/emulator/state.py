"""Everything the emulator remembers, behind one lock with short critical sections.

Parsing, validation and hashing happen outside the lock (in the request thread); this module only
does counting, rate-limit bookkeeping, storing and look-ups. Memory stays small for millions of
records: duplicates are detected by a 64-bit hash per record, full records (as canonical JSON
bytes) are kept only up to ``record_cap`` per resource, and v3 request ids are derived from a
per-reset prefix plus a counter so the server keeps one small entry per batch, not per id.
"""

from __future__ import annotations

import bisect
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from airflow_provider_drip.emulator.config import EmulatorConfig
from airflow_provider_drip.emulator.processing import DONE, NAMES, clock_stage, poll_stage
from airflow_provider_drip.emulator.subscriber_store import People
from airflow_provider_drip.emulator.windows import FixedWindow
from airflow_provider_drip.resources import RESOURCES

MAX_BATCH_SIZES_KEPT = 100_000


@dataclass
class ResourceStats:
    requests_accepted: int = 0
    records_accepted: int = 0
    requests_rejected: int = 0
    duplicates: int = 0
    batch_sizes: list[int] = field(default_factory=list)
    hashes: set[int] = field(default_factory=set)
    stored: list[bytes] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "requests_accepted": self.requests_accepted,
            "records_accepted": self.records_accepted,
            "requests_rejected": self.requests_rejected,
            "duplicates": self.duplicates,
            "unique_records": len(self.hashes),
            "records_stored": len(self.stored),
            "batch_sizes": list(self.batch_sizes),
        }


@dataclass
class Admission:
    """The rate limiter's and fault injector's verdict on one batch request."""

    admitted: bool
    limit: int | None
    remaining: int | None
    retry_after: int | None
    """Whole seconds until the window resets (rounded up)."""
    number: int = 0
    """1-based number of this admitted batch request since reset."""
    fault: str | None = None
    """``"500"``, ``"503"``, ``"drop"`` or None."""


@dataclass
class _IdBlock:
    """Request ids ``start .. start+count-1`` issued for one accepted v3 batch."""

    start: int
    count: int
    created: float
    failures: dict[int, list[dict[str, str]]]


def _utc_now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class EmulatorState:
    def __init__(self, config: EmulatorConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.lock = threading.Lock()
        self.startup_config = config
        self.base_url = "http://127.0.0.1"
        self._clock = clock
        self._clear(config)

    def now(self) -> float:
        """The emulator's clock: ``clock()`` plus whatever ``advance_clock`` added since reset.

        Rate-limit windows and v3 processing both run on it, so a test can skip an hour or a
        processing delay without sleeping.
        """
        return self._clock() + self.clock_offset

    def advance_clock(self, seconds: float) -> float:
        """Move the emulator's clock forward (never back); returns the total offset."""
        if not 0 <= seconds < math.inf:
            raise ValueError("the clock only moves forward: seconds must be finite and >= 0")
        with self.lock:
            self.clock_offset += seconds
            return self.clock_offset

    # ----------------------------------------------------------------- lifecycle
    def _clear(self, config: EmulatorConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.clock_offset = 0.0
        self.started = self.now()
        self.requests_total = 0
        self.status_counts: Counter[int] = Counter()
        self.dropped_connections = 0
        self.user_agents: Counter[str] = Counter()
        self.auth_schemes: Counter[str] = Counter()
        self.content_encodings: Counter[str] = Counter()
        self.resources = {name: ResourceStats() for name in RESOURCES}
        self.batch_window = FixedWindow()
        self.read_window = FixedWindow()
        self.batch_number = 0
        self.id_prefix = self.rng.getrandbits(64)
        self.id_blocks: list[_IdBlock] = []
        self.id_block_starts: list[int] = []
        self.next_id = 0
        self.polls: Counter[int] = Counter()
        self.people = People(config.record_cap)

    def reset(self, keep_config: bool = False) -> None:
        with self.lock:
            self._clear(self.config if keep_config else self.startup_config)

    def configure(self, options: dict[str, Any]) -> EmulatorConfig:
        """Apply options; a new ``seed`` re-seeds the fault injector."""
        with self.lock:
            new = self.config.updated(options)
            self.config = new
            if "seed" in options:
                self.rng = random.Random(new.seed)
            return new

    # ----------------------------------------------------------------- counting
    def note_request(self, user_agent: str | None, auth_scheme: str) -> EmulatorConfig:
        with self.lock:
            self.requests_total += 1
            self.user_agents[user_agent or ""] += 1
            self.auth_schemes[auth_scheme] += 1
            return self.config

    def note_encoding(self, content_encoding: str | None) -> None:
        """Count a batch body's ``Content-Encoding`` (``identity`` when absent)."""
        with self.lock:
            self.content_encodings[(content_encoding or "identity").strip().lower()] += 1

    def note_response(self, status: int, resource: str | None = None) -> None:
        with self.lock:
            self.status_counts[status] += 1
            if resource is not None and status == 422:
                self.resources[resource].requests_rejected += 1

    def note_dropped(self) -> None:
        with self.lock:
            self.dropped_connections += 1

    # ----------------------------------------------------------------- rate limit + faults
    def admit(self, now: float) -> Admission:
        """Count one batch request against the window, or refuse it (429s cost nothing)."""
        with self.lock:
            cfg = self.config
            limit: int | None = cfg.rate_limit
            remaining: int | None = None
            reset_in = 0
            if cfg.rate_limit > 0:
                verdict = self.batch_window.take(now, cfg.rate_limit, cfg.rate_window)
                if not verdict.admitted:
                    return Admission(False, limit, 0, verdict.reset_in)
                remaining, reset_in = verdict.remaining, verdict.reset_in
            else:
                limit = None
            self.batch_number += 1
            n = self.batch_number
            draw = self.rng.random()
            fault = None
            if n in cfg.fault_500_requests:
                fault = "500"
            elif n in cfg.fault_503_requests:
                fault = "503"
            elif n in cfg.drop_requests:
                fault = "drop"
            elif draw < cfg.fault_500_rate:
                fault = "500"
            elif draw < cfg.fault_500_rate + cfg.fault_503_rate:
                fault = "503"
            elif draw < cfg.fault_500_rate + cfg.fault_503_rate + cfg.drop_rate:
                fault = "drop"
            return Admission(True, limit, remaining, reset_in if limit else None, n, fault)

    def admit_read(self, now: float) -> Admission:
        """Count one non-batch request (a status check, a read) against its own budget."""
        with self.lock:
            cfg = self.config
            if cfg.read_rate_limit <= 0:
                return Admission(True, None, None, None)
            verdict = self.read_window.take(now, cfg.read_rate_limit, cfg.rate_window)
            return Admission(
                verdict.admitted, cfg.read_rate_limit, verdict.remaining, verdict.reset_in
            )

    def rate_limit_info(self, now: float) -> dict[str, Any]:
        cfg = self.config
        return self.batch_window.info(now, cfg.rate_limit, cfg.rate_window)

    # ----------------------------------------------------------------- accepting batches
    def accept(
        self,
        resource: str,
        records: list[Any],
        canonical: list[bytes],
        failures: dict[int, list[dict[str, str]]],
    ) -> list[str]:
        """Store an accepted batch; returns its request ids (empty for v2 resources)."""
        hashes = [hash(c) for c in canonical]
        with self.lock:
            stats = self.resources[resource]
            stats.requests_accepted += 1
            stats.records_accepted += len(records)
            if len(stats.batch_sizes) < MAX_BATCH_SIZES_KEPT:
                stats.batch_sizes.append(len(records))
            seen = stats.hashes
            for h in hashes:
                if h in seen:
                    stats.duplicates += 1
                else:
                    seen.add(h)
            room = self.config.record_cap - len(stats.stored)
            if room > 0:
                stats.stored.extend(canonical[:room])
            if resource in ("subscribers", "unsubscribes"):
                status = "unsubscribed" if resource == "unsubscribes" else None
                created_at = _utc_now_iso()
                self.people.cap = self.config.record_cap
                for rec, canon in zip(records, canonical, strict=True):
                    self.people.note(rec, canon, status, created_at)
            if not RESOURCES[resource].returns_request_ids:
                return []
            start = self.next_id
            self.next_id += len(records)
            self.id_blocks.append(_IdBlock(start, len(records), self.now(), failures))
            self.id_block_starts.append(start)
            return [self._format_id(start + i) for i in range(len(records))]

    # ----------------------------------------------------------------- request ids
    def _format_id(self, n: int) -> str:
        p = self.id_prefix
        return (
            f"{p >> 32:08x}-{(p >> 16) & 0xFFFF:04x}-4{(p >> 4) & 0xFFF:03x}-"
            f"{8 | (p & 0x3):x}{n >> 48 & 0xFFF:03x}-{n & 0xFFFFFFFFFFFF:012x}"
        )

    def _parse_id(self, request_id: str) -> int | None:
        parts = request_id.lower().split("-")
        if len(parts) != 5 or len(request_id) != 36:
            return None
        try:
            n = (int(parts[3][1:], 16) << 48) | int(parts[4], 16)
        except ValueError:
            return None
        return n if self._format_id(n) == request_id.lower() else None

    def request_status(self, request_id: str, now: float) -> dict[str, Any] | None:
        """The id's state at ``now`` (see ``emulator/processing.py``), or None when the id was
        never issued. Every check is counted per id for the legacy ``status_polls`` gate."""
        with self.lock:
            n = self._parse_id(request_id)
            if n is None or n >= self.next_id:
                return None
            block = self.id_blocks[bisect.bisect_right(self.id_block_starts, n) - 1]
            self.polls[n] += 1
            cfg = self.config
            index = n - block.start
            stage = min(
                clock_stage(now - block.created, index, cfg.processing_delay,
                            cfg.seconds_per_record),
                poll_stage(self.polls[n], cfg.status_polls),
            )  # fmt: skip
            if stage == DONE:
                errors = block.failures.get(index)
                status = "failed" if errors else "completed"
            else:
                status, errors = NAMES[stage], None
            return {"request_id": request_id, "status": status, "errors": list(errors or [])}

    # ----------------------------------------------------------------- subscribers read-back
    def find_subscriber(self, id_or_email: str) -> dict[str, Any] | None:
        with self.lock:
            profile = self.people.find(id_or_email)
            if profile is None:
                return None
            account = self.config.account_id
            profile["href"] = f"{self.base_url}/v2/{account}/subscribers/{profile['id']}"
            profile["links"] = {"account": account}
            return profile

    # ----------------------------------------------------------------- inspection
    def stats(self) -> dict[str, Any]:
        now = self.now()
        with self.lock:
            counts = self.status_counts
            return {
                "requests_total": self.requests_total,
                "batch_requests_admitted": self.batch_number,
                "status_counts": {str(k): v for k, v in sorted(counts.items())},
                "errors": {
                    "4xx": sum(v for k, v in counts.items() if 400 <= k < 500),
                    "401": counts[401],
                    "422": counts[422],
                    "429": counts[429],
                    "5xx": sum(v for k, v in counts.items() if k >= 500),
                },
                "dropped_connections": self.dropped_connections,
                "resources": {name: s.summary() for name, s in self.resources.items()},
                "records_accepted": sum(s.records_accepted for s in self.resources.values()),
                "duplicates": sum(s.duplicates for s in self.resources.values()),
                "user_agents": dict(self.user_agents),
                "auth_schemes": dict(self.auth_schemes),
                "content_encodings": dict(self.content_encodings),
                "rate_limit": self.rate_limit_info(now),
                "read_rate_limit": self.read_window.info(
                    now, self.config.read_rate_limit, self.config.rate_window
                ),
                "request_ids_issued": self.next_id,
                "subscribers_known": len(self.people),
                "uptime_seconds": round(now - self.started, 3),
            }

    def stored_records(self, resource: str, offset: int, limit: int | None) -> tuple[bytes, int]:
        """Stored records as one JSON array (bytes) and the total stored count."""
        with self.lock:
            stored = self.resources[resource].stored
            end = len(stored) if limit is None else offset + limit
            chunk = stored[offset:end]
            total = len(stored)
        return b"[" + b",".join(chunk) + b"]", total
