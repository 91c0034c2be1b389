"""Change-only syncs: between the record pipeline and the sync state.

The pipeline asks :attr:`ChangeTracker.verdict` about every valid record's payload (the exact
bytes that would be sent) and drops the unchanged ones before chunking, so batches stay full.
The loop calls :meth:`ChangeTracker.accepted` only for chunks Drip accepted, and
:meth:`ChangeTracker.commit` before it saves its cursor: a try that dies between the two finds
the batch already in the state, so it is filtered as unchanged instead of being sent again.

The tracker hashes the payload and looks the digest up in the state's content column: a hit
means Drip accepted these very bytes, and since the bytes hold the key fields, for this key.
On JSON lines sent as they are, the pipeline asks before decoding the line at all
(``known``), so an unchanged line costs one hash and one lookup, less than checking it would.
Only a miss (a record to send) is decoded, to check that it has its key fields; the key digest
itself is taken when Drip accepts the record. ``bench/changed.py`` measures the cost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from airflow_provider_drip.records.errors import Violation
from airflow_provider_drip.state import MissingKeyError, PayloadDigester
from airflow_provider_drip.state.digest import content_digest

if TYPE_CHECKING:
    from airflow_provider_drip.state import ChangeState

SYNC_MODES = ("full", "changed")

CHANGE_KEY_RULE = "change_key"
"""Rule name of the reject for a record without the fields that identify it in changed mode."""


class _Chunk(Protocol):
    payloads: list[bytes]


@dataclass
class ChangeCounts:
    new: int = 0
    changed: int = 0


class ChangeTracker:
    """Classifies payloads against one sync state and records what Drip accepted.

    :param send_all: a full refresh: every record is sent (and the state rebuilt from what Drip
        accepts), whatever the stored state says.
    """

    def __init__(self, state: ChangeState, digester: PayloadDigester, *, send_all: bool) -> None:
        self.state = state
        self.digester = digester
        self.send_all = send_all
        self.known: Callable[[bytes], bool] = self._compile_known()
        """True when Drip already accepted exactly these bytes (never, in a full refresh)."""
        self.verdict: Callable[[bytes], bool | list[Violation]] = self._compile_verdict()
        """True to send, False when Drip already has exactly this record, or violations when
        the record lacks its key fields (a reject with the reason)."""

    @property
    def location(self) -> str:
        return str(self.state.path)

    def _compile_known(self) -> Callable[[bytes], bool]:
        if self.send_all:
            return lambda payload: False
        state = self.state  # its ``holds`` follows every commit, so it is looked up per call
        content = content_digest

        def known(payload: bytes) -> bool:
            return state.holds(content(payload))

        return known

    def _compile_verdict(self) -> Callable[[bytes], bool | list[Violation]]:
        known = self.known
        key = self.digester.key
        describe = self.digester.spec.describe()

        def verdict(payload: bytes) -> bool | list[Violation]:
            if known(payload):
                return False
            try:
                key(payload)  # a record to send must be trackable once Drip accepts it
            except MissingKeyError as err:
                return [Violation(describe, CHANGE_KEY_RULE, str(err))]
            return True

        return verdict

    def accepted(self, chunk: _Chunk) -> ChangeCounts:
        """Queue the digests of an accepted chunk; counts how many keys were new or known."""
        pairs = list(map(self.digester.digests, chunk.payloads))
        known = self.state.known_keys(key for key, _ in pairs)
        changed = sum(1 for key, _ in pairs if key in known)
        self.state.mark_accepted(pairs)
        return ChangeCounts(new=len(pairs) - changed, changed=changed)

    def commit(self) -> None:
        """Write what was accepted since the last commit (atomic; refuses a concurrent writer)."""
        if self.state.pending or self.state.full_refresh:
            self.state.commit()
