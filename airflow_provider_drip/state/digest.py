"""Key and content digests of a record, the only thing the sync state remembers about it.

A record is reduced to two 64-bit numbers: which Drip object it updates (the key digest) and
what it says about it (the content digest). Both hash a canonical serialisation (sorted keys,
compact separators, UTF-8), so the same record gives the same digests in every process and on
every worker. 64 bits keep the state at 16 bytes per key; the chance that two of a million keys
collide is about 3e-8 (n^2 / 2^65), and a collision only makes a record look unchanged once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from hashlib import blake2b
from typing import Any, NamedTuple

import msgspec

from airflow_provider_drip.resources import BatchResource, get_resource

DIGEST_VERSION = 1
"""Bumped when the serialisation or hashing below changes: a state written under another
version would classify every record wrongly, so the store refuses to mix them."""

_KEY_PERSON = b"drip-key"
_RECORD_KEY_PERSON = b"drip-rec"
_CONTENT_PERSON = b"drip-val"

_sorted_encode = msgspec.json.Encoder(order="sorted", decimal_format="number").encode


def canonical_json(value: Any) -> bytes:
    """Sorted-key, compact UTF-8 JSON of ``value``; deterministic for a given value.

    msgspec is the fast path. Values it cannot encode (lone surrogates from badly decoded
    sources, non-string dict keys, types outside JSON) take the ``json`` path, which keeps
    surrogates with ``surrogatepass`` and stringifies unknown types: a given record always
    takes the same path, so its digest is stable.
    """
    try:
        return _sorted_encode(value)
    except (TypeError, UnicodeEncodeError, ValueError, msgspec.EncodeError):
        return json.dumps(
            _str_keys(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
        ).encode("utf-8", "surrogatepass")


def _str_keys(value: Any) -> Any:
    """Dict keys as strings (as JSON makes them), so mixed key types can be sorted."""
    if isinstance(value, Mapping):
        return {str(k): _str_keys(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_str_keys(v) for v in value]
    return value


def _digest(data: bytes, person: bytes) -> int:
    return int.from_bytes(blake2b(data, digest_size=8, person=person).digest(), "little")


class MissingKeyError(ValueError):
    """A record lacks the fields that identify it; the caller rejects it with ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RecordDigests(NamedTuple):
    key: int
    """64-bit digest of the key fields (or of the whole record, for facts like events)."""
    content: int
    """64-bit digest of the whole record as sent to Drip."""


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


class RecordDigester:
    """Computes ``RecordDigests`` for records of one key spec."""

    def __init__(self, spec: KeySpec) -> None:
        self.spec = spec
        self._alternatives = spec.alternatives

    def key_material(self, record: Mapping[str, Any]) -> tuple[tuple[str, ...], list[Any]]:
        """The fields that identify ``record`` and their values. The names are part of the key,
        so ``email`` and ``id`` alternatives with the same value never share a key. Raises
        ``MissingKeyError``."""
        get = record.get
        for alt in self._alternatives:
            values = [get(f) for f in alt]
            for v in values:
                if not key_value_present(v):
                    break
            else:
                return alt, values
        raise MissingKeyError(missing_key_reason(self.spec))

    def digests(self, record: Mapping[str, Any]) -> RecordDigests:
        """Key and content digests of ``record`` (a dict as sent to Drip)."""
        if not isinstance(record, Mapping):
            raise MissingKeyError(f"record is a {type(record).__name__}, not an object")
        content = canonical_json(record)
        if self._alternatives:
            key = _digest(canonical_json(self.key_material(record)), _KEY_PERSON)
        else:
            key = _digest(content, _RECORD_KEY_PERSON)
        return RecordDigests(key, _digest(content, _CONTENT_PERSON))


def record_digests(
    record: Mapping[str, Any],
    resource: BatchResource | str,
    key_fields: Sequence[str] | None = None,
) -> RecordDigests:
    """One-off convenience; build a ``RecordDigester`` once for many records."""
    return RecordDigester(key_spec_for(resource, key_fields)).digests(record)
