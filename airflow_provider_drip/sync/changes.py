"""Change-only syncs: between the record pipeline and the sync state.

The pipeline asks :meth:`ChangeTracker.verdict` about every valid record's payload (the exact
bytes that would be sent) and drops the unchanged ones before chunking, so batches stay full.
The loop calls :meth:`ChangeTracker.accepted` only for chunks Drip accepted, and
:meth:`ChangeTracker.commit` before it saves its cursor: a try that dies between the two finds
the batch already in the state, so it is filtered as unchanged instead of being sent again.

Digests are taken from the payload, at both ends, so what is classified and what is remembered
are the same bytes by construction. The content digest checksums the payload as it is (the
pipeline serialises a given input the same way every time); only the key fields are decoded
again, through a msgspec Struct that skips the rest of the record. That keeps the cost to about
6 us a record (``bench/changed.py``: 1.49x full mode's pass over CSV, 2.93x over JSON Lines,
whose full pass runs at C speed). The price: an input whose serialisation changes without its
values changing (reordered JSON keys in the source, say) looks changed once. These digests are
the ones a changed-mode state holds; ``state.RecordDigester.digests`` (canonical JSON of a dict)
is not interchangeable with them, only its key spec and key-field rules are shared.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from hashlib import blake2b
from typing import Any, Protocol
from zlib import adler32, crc32

import msgspec

from airflow_provider_drip.records.errors import Violation
from airflow_provider_drip.state import MissingKeyError, RecordDigester, SyncState
from airflow_provider_drip.state.digest import key_value_present, missing_key_reason

SYNC_MODES = ("full", "changed")

CHANGE_KEY_RULE = "change_key"
"""Rule name of the reject for a record without the fields that identify it in changed mode."""

_KEY_PERSON = b"drip-key"
_RECORD_KEY_PERSON = b"drip-rec"
_encode = msgspec.json.encode


# Key digests: 64-bit blake2b over the key fields; a million keys collide with odds of about
# 3e-8, and a collision only costs a resend (the two records' contents differ, so each looks
# changed). Content digests: crc32 and adler32 of the payload as one 64-bit number; they only
# tell whether one key's record changed since it was sent, at ~0.2 us per record.


class PayloadDigester:
    """Key and content digests of a serialised record, decoding only its key fields.

    ``digests`` is a closure over locals, with the hashing inlined: it runs once per record on
    every changed-mode pass, so each attribute lookup and call shows in ``bench/changed.py``.
    """

    def __init__(self, digester: RecordDigester) -> None:
        self.spec = digester.spec
        self.digests: Callable[[bytes], tuple[int, int]] = self._compile()

    def _compile(self) -> Callable[[bytes], tuple[int, int]]:
        spec = self.spec
        hash_ = blake2b
        if spec.whole_record:

            def whole(payload: bytes) -> tuple[int, int]:
                key = hash_(payload, digest_size=8, person=_RECORD_KEY_PERSON).digest()
                content = crc32(payload) | (adler32(payload) << 32)
                return int.from_bytes(key, "little"), content

            return whole
        alternatives = [(list(alt), alt) for alt in spec.alternatives]
        fields = sorted({f for alt in spec.alternatives for f in alt})
        use_struct = all(f.isidentifier() for f in fields)
        if use_struct:
            struct = msgspec.defstruct("ChangeKey", [(f, Any, None) for f in fields])
            decode = msgspec.json.Decoder(struct).decode
        else:  # names a Struct cannot carry: decode the whole record
            decode = msgspec.json.Decoder().decode
        encode = _encode
        present = key_value_present
        missing = missing_key_reason(spec)

        def keyed(payload: bytes) -> tuple[int, int]:
            try:
                decoded = decode(payload)
            except (msgspec.DecodeError, msgspec.ValidationError) as err:
                raise MissingKeyError(f"record is not an object ({err})") from None
            if use_struct:
                get = decoded.__getattribute__
            elif type(decoded) is dict:
                get = decoded.get
            else:
                raise MissingKeyError(f"record is a {type(decoded).__name__}, not an object")
            for names, alt in alternatives:
                values = [get(f) for f in alt]
                for value in values:
                    if not (type(value) is str and value and not value.isspace()) and not present(
                        value
                    ):
                        break
                else:
                    if len(values) == 1 and type(values[0]) is str:  # the common case: email
                        data = names[0].encode() + b"\x00" + values[0].encode()
                    else:
                        data = encode([names, values])
                    key = hash_(data, digest_size=8, person=_KEY_PERSON).digest()
                    content = crc32(payload) | (adler32(payload) << 32)
                    return int.from_bytes(key, "little"), content
            raise MissingKeyError(missing)

        return keyed


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
        self._digests = PayloadDigester(digester).digests
        self._describe = digester.spec.describe()

    @property
    def location(self) -> str:
        return str(self.state.path)

    def verdict(self, payload: bytes) -> bool | list[Violation]:
        """True to send, False when Drip already has exactly this record, or violations when
        the record lacks its key fields (a reject with the reason)."""
        try:
            key, content = self._digests(payload)
        except MissingKeyError as err:
            return [Violation(self._describe, CHANGE_KEY_RULE, str(err))]
        if self.send_all:
            return True
        return self.state.classify(key, content) != "unchanged"

    def accepted(self, chunk: _Chunk) -> ChangeCounts:
        """Queue the digests of an accepted chunk; counts how many were new and changed."""
        counts = ChangeCounts()
        pairs = []
        classify = self.state.classify
        digests = self._digests
        for payload in chunk.payloads:
            key, content = digests(payload)
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
