"""Durations as Airflow takes them: a ``timedelta`` or a number of seconds."""

from __future__ import annotations

import math
from datetime import timedelta

Duration = timedelta | float | int
"""What every duration parameter of this provider accepts."""


def to_seconds(value: Duration, name: str, *, allow_zero: bool = True) -> float:
    """``value`` in seconds, or a ``ValueError`` naming the parameter and the rule it broke."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise TypeError(f"{name} must be a timedelta or a number of seconds, got {value!r}")
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not allow_zero):
        rule = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite duration {rule} seconds, got {value!r}")
    return seconds
