"""When a v3 request id reports ``queued``, ``processing`` or its final state.

Drip processes shopper activity in the background, in order, whatever its clients do: an id's
state depends on time since its batch was accepted, not on how often anyone asks. A batch waits
``processing_delay`` seconds in the queue, then its records are processed one after another,
``seconds_per_record`` each, so the ids of one batch finish in order and the last id finishes last.

``status_polls`` is the older, poll-driven knob, kept because tests count status checks exactly
with it: an id answers ``queued`` on its first poll and ``processing`` up to poll number
``status_polls``. When both apply, the less advanced state wins.
"""

from __future__ import annotations

QUEUED, PROCESSING, DONE = 0, 1, 2
NAMES = ("queued", "processing")


def clock_stage(age: float, index: int, delay: float, per_record: float) -> int:
    """The stage of the ``index``-th id (0-based) of a batch accepted ``age`` seconds ago."""
    if age < delay:
        return QUEUED
    if age < delay + (index + 1) * per_record:
        return PROCESSING
    return DONE


def poll_stage(polls: int, status_polls: int) -> int:
    """The stage the legacy poll gate allows on the ``polls``-th check of an id (1-based)."""
    if polls > status_polls:
        return DONE
    return QUEUED if polls <= 1 else PROCESSING
