"""Emulator options: one dataclass shared by the CLI, the control API and the pytest fixture."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_drip.resources import DEFAULT_RATE_LIMIT_PER_HOUR

DEFAULT_ACCOUNT_ID = "9999999"
DEFAULT_TOKEN = "emulator-token"
DEFAULT_READ_RATE_LIMIT_PER_HOUR = 3600
"""Drip's budget for every non-batch request (status checks, reads), per account and hour."""
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
ALIASES = {"status_seconds": "processing_delay"}
"""Older option names still accepted (``--status-seconds`` predates the processing clock)."""


@dataclass
class EmulatorConfig:
    """Everything that shapes the emulator's behaviour. All keys are settable through
    ``POST /_emulator/config`` (JSON) and, with dashes, as CLI flags."""

    account_id: str = DEFAULT_ACCOUNT_ID
    token: str = DEFAULT_TOKEN
    # rate limiting: fixed windows anchored at the first counted request of each window
    rate_limit: int = DEFAULT_RATE_LIMIT_PER_HOUR
    """Batch requests per window; 0 turns rate limiting (and its headers) off."""
    rate_window: float = 3600.0
    retry_after: bool = True
    """Send ``Retry-After`` (seconds until the window resets, rounded up) with 429s."""
    read_rate_limit: int = DEFAULT_READ_RATE_LIMIT_PER_HOUR
    """Non-batch requests (status checks, reads) per window; 0 turns that limit off."""
    # asynchronous processing of v3 request ids, by the clock (see emulator/processing.py)
    processing_delay: float = 0.0
    """Seconds a v3 batch waits in Drip's queue after it was accepted (its ids: ``queued``)."""
    seconds_per_record: float = 0.0
    """Then each record takes this long, in order (``processing`` until its turn is done)."""
    status_polls: int = 0
    """Legacy, poll-driven: an id also answers queued/processing for its first N polls."""
    status_endpoint: bool = True
    """False: the request-status endpoint answers 404, as if Drip had none."""
    fail_marker: str = "__drip_fail__"
    """A v3 record containing this string anywhere ends ``failed`` with Drip-style errors."""
    # fault injection (deterministic for a given seed and request order)
    seed: int = 0
    fault_500_rate: float = 0.0
    fault_503_rate: float = 0.0
    drop_rate: float = 0.0
    """Probability that a batch is processed and stored, then the socket closed unanswered."""
    fault_500_requests: list[int] = field(default_factory=list)
    fault_503_requests: list[int] = field(default_factory=list)
    drop_requests: list[int] = field(default_factory=list)
    """Batch request numbers (1-based, counted since reset over admitted batch requests)."""
    latency: float = 0.0
    """Seconds added before answering every API (non-control) request."""
    record_cap: int = 100_000
    """Full records kept per resource (and subscriber profiles); duplicates use hashes."""
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    """Largest request body, as sent and after gzip decompression (413 beyond)."""

    def to_dict(self, redact: bool = True) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if redact:
            data["token"] = "***"
        return data

    def updated(self, options: dict[str, Any]) -> EmulatorConfig:
        """A copy with ``options`` applied, each coerced to its field's type.

        Raises ``ValueError`` naming unknown keys or bad values.
        """
        options = {ALIASES.get(key, key): value for key, value in options.items()}
        fields = {f.name: f for f in dataclasses.fields(self)}
        unknown = sorted(set(options) - set(fields))
        if unknown:
            raise ValueError(f"Unknown emulator option(s) {unknown}; known: {sorted(fields)}")
        values = dataclasses.asdict(self)
        for key, raw in options.items():
            values[key] = _coerce(key, raw, fields[key].type)
        new = EmulatorConfig(**values)
        new.check()
        return new

    def check(self) -> None:
        if self.rate_limit < 0 or self.rate_window <= 0:
            raise ValueError("rate_limit must be >= 0 and rate_window > 0")
        for name in ("fault_500_rate", "fault_503_rate", "drop_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a probability between 0 and 1")
        if self.fault_500_rate + self.fault_503_rate + self.drop_rate > 1.0:
            raise ValueError("fault_500_rate + fault_503_rate + drop_rate must not exceed 1")
        for name in ("read_rate_limit", "status_polls", "processing_delay", "seconds_per_record",
                     "latency", "record_cap"):  # fmt: skip
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.max_body_bytes < 1:
            raise ValueError("max_body_bytes must be >= 1")
        if not self.account_id or not self.token:
            raise ValueError("account_id and token must not be empty")


def _coerce(key: str, raw: Any, type_name: Any) -> Any:
    kind = str(type_name)
    try:
        if kind == "bool":
            if isinstance(raw, str):
                if raw.lower() in ("1", "true", "yes", "on"):
                    return True
                if raw.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError(raw)
            return bool(raw)
        if kind == "int":
            if isinstance(raw, float) and not raw.is_integer():
                raise ValueError(raw)
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "str":
            return str(raw)
        if kind == "list[int]":
            if isinstance(raw, str):
                raw = [x for x in raw.split(",") if x.strip()]
            return sorted({int(x) for x in raw})
    except (TypeError, ValueError):
        pass
    raise ValueError(f"Emulator option {key!r}: invalid value {raw!r} (expected {kind})")
