"""Progress lines for the task log: records done / total, batches, rejects, waits and ETA."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


@dataclass
class ProgressTracker:
    """Keeps the numbers a progress line needs; ``line()`` renders one."""

    resource: str
    batch_size: int
    total: int | None = None
    rate_limit: int | None = None
    rate_limit_remaining: int | None = None
    started: float = field(default_factory=time.monotonic)
    batches_this_try: int = 0

    def eta_seconds(self, position: int, elapsed: float, waited: bool) -> float | None:
        """Time left at the pace seen in this try, which already includes rate-limit waits.

        ``position`` is the number of input records processed (sent, rejected or skipped).
        Before any wait has happened the budget is not yet binding; the estimate then also
        accounts for the batches beyond what the current window still allows, at Drip's documented
        pace of ``X-RateLimit-Limit`` requests per hour.
        """
        if self.total is None or self.batches_this_try == 0:
            return None
        batches_left = math.ceil(max(0, self.total - position) / self.batch_size)
        if batches_left == 0:
            return 0.0
        seconds_per_batch = elapsed / self.batches_this_try
        eta = batches_left * seconds_per_batch
        if not waited and self.rate_limit and self.rate_limit_remaining is not None:
            beyond_window = batches_left - self.rate_limit_remaining
            if beyond_window > 0:
                eta = max(eta, beyond_window / self.rate_limit * 3600.0)
        return eta

    def line(
        self,
        *,
        position: int,
        records_sent: int,
        batches_sent: int,
        rejected: int,
        waits: int,
        wait_s: float,
        unchanged: int | None = None,
    ) -> str:
        """One progress line. ``rejected`` (and ``unchanged``) must count only records up to
        ``position``, so the counts add up with what was sent."""
        elapsed = time.monotonic() - self.started
        if self.total:
            percent = 100.0 * position / self.total
            done = f"{position:,}/{self.total:,} records processed ({percent:.1f}%)"
        else:
            done = f"{position:,} records processed of a total not known yet"
        parts = [
            f"{self.resource}: {done}",
            f"{records_sent:,} sent in {plural(batches_sent, 'batch', 'batches')}",
            f"{rejected:,} rejected",
        ]
        if unchanged is not None:
            parts.append(f"{unchanged:,} unchanged")
        parts.append(f"{plural(waits, 'rate-limit wait')} ({format_duration(wait_s)})")
        if self.rate_limit is not None and self.rate_limit_remaining is not None:
            parts.append(f"budget {self.rate_limit_remaining}/{self.rate_limit} left")
        eta = self.eta_seconds(position, elapsed, waited=waits > 0)
        if eta is not None:
            parts.append(f"ETA {format_duration(eta)}")
        elif not self.total:
            parts.append("ETA unknown until the input is counted")
        return ", ".join(parts)


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 batch``, ``2 batches``."""
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count:,} {word}"
