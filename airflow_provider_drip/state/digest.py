"""Key and content digests of a record, the only thing the sync state remembers about it.

A record is reduced to two 64-bit numbers taken from its payload, the exact bytes sent to Drip:
which Drip object it updates (the key digest, over the key fields' names and values) and what
was sent (the content digest, over the whole payload). Taking both from the payload means what
is classified and what is remembered are the same bytes by construction, in every process and
on every worker. The price: an input whose serialisation changes without its values changing
(reordered JSON keys in the source, say) looks changed once.

64 bits keep the state at 16 bytes per key. Two of a million keys collide with odds of about
3e-8 (n^2 / 2^65); a key collision only costs resends. The content digest is looked up across
all keys (``SyncState.holds``), so a changed record would be skipped only if its payload hashed
to one of the stored digests: about n / 2^64 per record, 5e-14 for a million keys.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from hashlib import blake2b as _blake2b
from typing import Any, NamedTuple

import msgspec

from airflow_provider_drip.resources import BatchResource, get_resource

DIGEST_VERSION = 2
"""Bumped when the serialisation or hashing below changes: a state written under another
version would classify every record wrongly, so the store refuses to mix them. 2: both digests
from the payload bytes (1 hashed a canonical JSON of the record)."""

_KEY_PERSON = b"drip-key"
_RECORD_KEY_PERSON = b"drip-rec"
_from_bytes = int.from_bytes


class MissingKeyError(ValueError):
    """A record lacks the fields that identify it; the caller rejects it with ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RecordDigests(NamedTuple):
    key: int
    """64-bit digest of the key fields (or of the whole record, for facts like events)."""
    content: int
    """64-bit digest of the record's payload: the exact bytes sent to Drip."""


@dataclass(frozen=True)
class KeySpec:
    """Which fields identify a record: alternatives, the first fully present one wins.

    No alternatives means the record is a fact (an event): the whole record is its key, so it
    is sent once, ever.
    """

    alternatives: tuple[tuple[str, ...], ...]

    @property
    def whole_record(self) -> bool:
        return not self.alternatives

    @property
    def fingerprint(self) -> str:
        """The spec as a state's header stores it: keys taken under another spec never match."""
        return msgspec.json.encode(self.alternatives).decode()

    def describe(self) -> str:
        if self.whole_record:
            return "the whole record"
        return " or ".join("+".join(alt) for alt in self.alternatives)


def key_spec_for(
    resource: BatchResource | str, key_fields: Sequence[str] | str | None = None
) -> KeySpec:
    """The key spec of ``resource``, or the user's ``key_fields`` override (all required)."""
    if key_fields is not None:
        fields = (key_fields,) if isinstance(key_fields, str) else tuple(key_fields)
        if not fields or not all(isinstance(f, str) and f for f in fields):
            raise ValueError(f"key_fields must name at least one field, got {key_fields!r}")
        return KeySpec((fields,))
    if isinstance(resource, str):
        resource = get_resource(resource)
    return KeySpec(tuple(tuple(alt) for alt in resource.change_keys))


def key_value_present(value: Any) -> bool:
    """A key field counts when it has a value: not None, not blank text, not an empty list."""
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value) and not value.isspace()
    if isinstance(value, (list, dict, tuple)):
        return bool(value)
    return True


def missing_key_reason(spec: KeySpec) -> str:
    """Why a record without any usable key alternative cannot be tracked."""
    return (
        f"record has no usable key: needs non-empty {spec.describe()} to be tracked in changed mode"
    )


def content_digest(payload: bytes) -> int:
    """64-bit digest of a payload. The state is searched by it across all keys (a hit means
    Drip accepted these very bytes), so it is a real hash, not a checksum: the first 8 bytes
    of BLAKE2b-512, whose call without parameters is the cheapest (~0.8 us a record against
    ~1.0 us with ``digest_size`` and ``person``, ``bench/FINDINGS.md``). Key digests use 8-byte
    BLAKE2b with a personalisation, a different parameter block, so the two never coincide."""
    return _from_bytes(_blake2b(payload).digest()[:8], "little")


class PayloadDigester:
    """Key and content digests of a serialised record, decoding only its key fields.

    ``key`` is compiled once per spec into a closure over locals: it runs for every record
    sent (and every record of a full refresh), so each attribute lookup shows in
    ``bench/changed.py``.
    """

    def __init__(self, spec: KeySpec) -> None:
        self.spec = spec
        self.key: Callable[[bytes], int] = self._compile()
        """The key digest of a payload; raises ``MissingKeyError`` without a usable key."""

    def digests(self, payload: bytes) -> RecordDigests:
        return RecordDigests(self.key(payload), content_digest(payload))

    def _compile(self) -> Callable[[bytes], int]:
        spec = self.spec
        hash_ = _blake2b
        from_bytes = _from_bytes
        if spec.whole_record:

            def whole(payload: bytes) -> int:
                digest = hash_(payload, digest_size=8, person=_RECORD_KEY_PERSON).digest()
                return from_bytes(digest, "little")

            return whole
        alternatives = [(list(alt), alt) for alt in spec.alternatives]
        fields = sorted({f for alt in spec.alternatives for f in alt})
        use_struct = all(f.isidentifier() and not keyword.iskeyword(f) for f in fields)
        if use_struct:
            struct = msgspec.defstruct("ChangeKey", [(f, Any, None) for f in fields])
            decode = msgspec.json.Decoder(struct).decode
        else:  # names a Struct cannot carry: decode the whole record
            decode = msgspec.json.Decoder().decode
        encode = msgspec.json.encode
        present = key_value_present
        missing = missing_key_reason(spec)

        def keyed(payload: bytes) -> int:
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
                    # The names are part of the key: an email and an id with the same value
                    # never share a key.
                    if len(values) == 1 and type(values[0]) is str:  # the common case: email
                        data = names[0].encode() + b"\x00" + values[0].encode()
                    else:
                        data = encode([names, values])
                    digest = hash_(data, digest_size=8, person=_KEY_PERSON).digest()
                    return from_bytes(digest, "little")
            raise MissingKeyError(missing)

        return keyed


def payload_of(record: Mapping[str, Any]) -> bytes:
    """A dict as the pipeline serialises it (compact JSON, fields in their order)."""
    if not isinstance(record, Mapping):
        raise MissingKeyError(f"record is a {type(record).__name__}, not an object")
    return msgspec.json.encode(record)


def record_digests(
    record: Mapping[str, Any],
    resource: BatchResource | str,
    key_fields: Sequence[str] | None = None,
) -> RecordDigests:
    """One-off convenience for a dict; build a ``PayloadDigester`` once for many records."""
    return PayloadDigester(key_spec_for(resource, key_fields)).digests(payload_of(record))
