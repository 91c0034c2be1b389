"""Fixed rate-limit windows, one per budget (batch requests, other requests).

Drip documents a count per hour and no reset time, so each window is anchored at the first request
it counts and lasts ``length`` seconds; a refused request is not counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass
class Verdict:
    """One request's standing in its window."""

    admitted: bool
    remaining: int
    reset_in: int
    """Whole seconds until the window ends (rounded up, at least 1)."""


@dataclass
class FixedWindow:
    start: float | None = None
    count: int = 0

    def take(self, now: float, limit: int, length: float) -> Verdict:
        """Count one request if the window has room (``limit`` > 0)."""
        if self.start is None or now >= self.start + length:
            self.start, self.count = now, 0
        reset_in = max(math.ceil(self.start + length - now), 1)
        if self.count >= limit:
            return Verdict(False, 0, reset_in)
        self.count += 1
        return Verdict(True, limit - self.count, reset_in)

    def info(self, now: float, limit: int, length: float) -> dict[str, Any]:
        """The window as the stats endpoint shows it."""
        if limit <= 0:
            return {"limit": None, "remaining": None, "window_seconds": length}
        active = self.start is not None and now < self.start + length
        return {
            "limit": limit,
            "remaining": limit - (self.count if active else 0),
            "window_seconds": length,
            "resets_in": (self.start + length - now) if active else None,  # type: ignore[operator]
        }
