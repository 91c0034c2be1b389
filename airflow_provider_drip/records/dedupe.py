"""``dedupe=True``: send each identity (email, id ...) once, at its last valid position.

A pre-pass maps every identity key to its last position among valid records (memory ~ keys);
the chunking pass then drops a record whose key appears again later.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from airflow_provider_drip.records.errors import InvalidRecordError, Violation

Identity = Callable[[Mapping[str, Any]], Any]


def compile_identity(identity_fields: tuple[str, ...]) -> Identity:
    """``identity(record)``: ``(field, value)`` of its first non-empty identity field, or None.

    Emails compare trimmed and lower-cased, as Drip matches them.
    """

    def identity(rec: Mapping[str, Any]) -> Any:
        for name in identity_fields:
            value = rec.get(name)
            if value is None or value == "":
                continue
            if name == "email" and isinstance(value, str):
                value = value.strip().lower()
            try:
                hash(value)
            except TypeError:
                value = repr(value)
            return (name, value)
        return None

    return identity


def last_positions(
    records: Iterable[Any],
    prepare: Callable[[Any], Any],
    identity: Identity,
    fail: bool,
    original: Callable[[Any], Any],
    location: Callable[[], str | None],
) -> dict[Any, int]:
    """The pre-pass: last position of each identity key among valid records.

    With ``fail`` an invalid record raises here already (the same error the pass would raise).
    """
    index: dict[Any, int] = {}
    for pos, raw in enumerate(records):
        out = prepare(raw)
        if type(out) is tuple:
            key = identity(out[0])
            if key is not None:
                index[key] = pos
        elif fail and type(out) is list:
            violations: list[Violation] = out
            raise InvalidRecordError(pos, violations, original(raw), location())
    return index
