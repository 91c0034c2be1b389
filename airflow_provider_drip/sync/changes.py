"""Change-only syncs: between the record pipeline and the sync state.

The pipeline asks :meth:`ChangeTracker.verdict` about every valid record's payload (the exact
bytes that would be sent) and drops the unchanged ones before chunking, so batches stay full.
The loop calls :meth:`ChangeTracker.accepted` only for chunks Drip accepted, and
:meth:`ChangeTracker.commit` before it saves its cursor: a try that dies between the two finds
the batch already in the state, so it is filtered as unchanged instead of being sent again.

Digests are taken from the payload decoded again, at both ends, so what is classified and what is
remembered are the same bytes by construction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec

from airflow_provider_drip.records.errors import Violation
from airflow_provider_drip.state import MissingKeyError, RecordDigester, SyncState

SYNC_MODES = ("full", "changed")

CHANGE_KEY_RULE = "change_key"
"""Rule name of the reject for a record without the fields that identify it in changed mode."""

_decode: Callable[[bytes], Any] = msgspec.json.Decoder().decode


class _Chunk(Protocol):
    payloads: list[bytes]


@dataclass
class ChangeCounts:
    new: int = 0
    changed: int = 0


class ChangeTracker:
    """Classifies payloads against one ``SyncState`` and records what Drip accepted.

    :param send_all: a full refresh: every record is sent (and the state rebuilt from what Drip
        accepts), whatever the stored state says.
    """

    def __init__(self, state: SyncState, digester: RecordDigester, *, send_all: bool) -> None:
        self.state = state
        self.digester = digester
        self.send_all = send_all

    @property
    def location(self) -> str:
        return str(self.state.path)

    def verdict(self, payload: bytes) -> bool | list[Violation]:
        """True to send, False when Drip already has exactly this record, or violations when
        the record lacks its key fields (a reject with the reason)."""
        try:
            key, content = self.digester.digests(_decode(payload))
        except MissingKeyError as err:
            field = self.digester.spec.describe()
            return [Violation(field, CHANGE_KEY_RULE, str(err))]
        if self.send_all:
            return True
        return self.state.classify(key, content) != "unchanged"

    def accepted(self, chunk: _Chunk) -> ChangeCounts:
        """Queue the digests of an accepted chunk; counts how many were new and changed."""
        counts = ChangeCounts()
        pairs = []
        classify = self.state.classify
        for payload in chunk.payloads:
            key, content = self.digester.digests(_decode(payload))
            if classify(key, content) == "changed":
                counts.changed += 1
            else:
                counts.new += 1
            pairs.append((key, content))
        self.state.mark_accepted(pairs)
        return counts

    def commit(self) -> None:
        """Write what was accepted since the last commit (atomic; refuses a concurrent writer)."""
        if self.state.pending or self.state.full_refresh:
            self.state.commit()
