"""Plain result types shared by both hooks, the trigger, the sync loop and the sensor."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airflow_provider_drip.exceptions import DripErrorDetail

REQUEST_STATUSES = ("queued", "processing", "completed", "failed")
TERMINAL_STATUSES = frozenset({"completed", "failed"})


def parse_error_details(body: Any) -> list[DripErrorDetail]:
    """Drip's ``{"errors": [{"code", "attribute", "message"}]}``; tolerant of other shapes."""
    if not isinstance(body, dict):
        return []
    errors = body.get("errors")
    if isinstance(errors, list):
        return [
            DripErrorDetail(
                code=e.get("code"), attribute=e.get("attribute"), message=e.get("message")
            )
            if isinstance(e, dict)
            else DripErrorDetail(message=str(e))
            for e in errors
        ]
    if isinstance(body.get("message"), str):  # the 429 body: {"message", "documentation"}
        return [DripErrorDetail(message=body["message"])]
    return []


@dataclass(frozen=True)
class BatchResponse:
    """What Drip answered to one accepted batch request."""

    status: int
    resource: str
    record_count: int
    request_ids: list[str] = field(default_factory=list)
    rate_limit_limit: int | None = None
    rate_limit_remaining: int | None = None
    retry_after: float | None = None
    """Seconds from ``Retry-After``, when Drip sent one."""
    rate_limit_reset_at: datetime | None = None
    """From ``X-RateLimit-Reset`` when present."""
    attempts: int = 1
    """HTTP attempts made, not counting 429 answers (1 = first try succeeded)."""
    rate_limit_waited_s: float = 0.0
    """Seconds the hook slept on 429s before this batch was accepted."""
    elapsed_s: float = 0.0


@dataclass(frozen=True)
class RequestStatus:
    """Processing state of one v3 request id."""

    request_id: str
    status: str
    errors: list[DripErrorDetail] = field(default_factory=list)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @classmethod
    def from_json(cls, request_id: str, body: Any) -> RequestStatus:
        if not isinstance(body, dict) or not isinstance(body.get("status"), str):
            raise ValueError(f"Unexpected request status body for {request_id!r}: {body!r}"[:300])
        return cls(
            request_id=str(body.get("request_id") or request_id),
            status=body["status"].lower(),
            errors=parse_error_details(body),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "status": self.status,
            "errors": [str(e) for e in self.errors],
        }
