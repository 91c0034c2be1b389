"""Emulator options: one dataclass shared by the CLI, the control API and the pytest fixture."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_drip.resources import DEFAULT_RATE_LIMIT_PER_HOUR

DEFAULT_ACCOUNT_ID = "9999999"
DEFAULT_TOKEN = "emulator-token"


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
    # asynchronous processing of v3 request ids
    status_polls: int = 2
    """Polls answered before a request id reports its final state (queued, processing...)."""
    status_seconds: float = 0.0
    """Minimum age of a request id before it reports its final state."""
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

    def to_dict(self, redact: bool = True) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if redact:
            data["token"] = "***"
        return data

    def updated(self, options: dict[str, Any]) -> EmulatorConfig:
        """A copy with ``options`` applied, each coerced to its field's type.

        Raises ``ValueError`` naming unknown keys or bad values.
        """
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
        if self.status_polls < 0 or self.status_seconds < 0 or self.latency < 0:
            raise ValueError("status_polls, status_seconds and latency must be >= 0")
        if self.record_cap < 0:
            raise ValueError("record_cap must be >= 0")
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
