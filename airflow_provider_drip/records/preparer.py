"""The per-record hot path: map -> coerce -> transform -> validate -> serialise.

``RecordPreparer.make()`` returns one closure over locals (every pass calls it once per record),
which turns a source record into ``(record, payload)``, a list of violations, or ``FILTERED``
(the transform dropped it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

import msgspec

from airflow_provider_drip.records.errors import Violation
from airflow_provider_drip.records.field_tables import ResourceRules
from airflow_provider_drip.records.jsonl_check import compile_line_check
from airflow_provider_drip.records.mapping import (
    compile_coercer,
    compile_field_map,
    compile_row_plan,
    row_targets,
)
from airflow_provider_drip.records.normalise import compile_normaliser
from airflow_provider_drip.records.readers import CsvRow, JsonLine, Unreadable
from airflow_provider_drip.records.specs import MappingSpec, SourceSpec
from airflow_provider_drip.records.validate import (
    compile_row_validator,
    compile_validator,
    find_non_finite,
)

RECORD_FIELD = "<record>"
"""``field`` of violations about the record as a whole (unparseable, not an object, too big)."""

FILTERED = object()
"""What ``prepare`` returns for a record the transform dropped (returned None)."""

RowPlan = tuple[
    Callable[[list[str]], dict[str, Any]], Callable[[dict[str, Any]], "list[Violation] | None"]
]
"""A CSV header's row builder and the validator that goes with it."""


def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, date):  # pendulum and other date/datetime subclasses
        return obj.isoformat()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


ENCODER = msgspec.json.Encoder(decimal_format="number", enc_hook=_enc_hook)


class RecordPreparer:
    """Compiled once per pipeline from the field table and the mapping; ``make()`` per pass."""

    def __init__(
        self,
        rules: ResourceRules,
        mapping: MappingSpec,
        source: SourceSpec,
        coerce: bool,
        room: int,
        max_batch_bytes: int,
    ) -> None:
        self.rules = rules
        self.mapping = mapping
        self.list_delimiter = source.list_delimiter
        self.room = room
        """Bytes one record may take: the body cap less the envelope."""
        self.max_batch_bytes = max_batch_bytes
        self.mapper = compile_field_map(mapping.field_map, mapping.keep_unmapped)
        self.coercer = compile_coercer(rules.fields, source.list_delimiter) if coerce else None
        self.validate = compile_validator(rules)
        self.normalise = compile_normaliser(rules.fields)
        self._row_plans: dict[tuple[str, ...], RowPlan] = {}
        self.unseen_columns: set[str] = set()
        """``field_map`` source columns no record of the current pass has had (yet)."""

    @property
    def reshapes(self) -> bool:
        """True when a record's bytes are not its payload (mapped, coerced or transformed)."""
        return (
            self.mapper is not None
            or self.coercer is not None
            or self.mapping.transform is not None
        )

    def line_check(self) -> Callable[[bytes], bool]:
        """The C check of a JSON line whose own bytes may be sent (see ``jsonl_check``)."""
        return compile_line_check(self.rules)

    def row_plan(self, header: tuple[str, ...]) -> RowPlan:
        """Map + coerce plan for CSV rows under ``header`` (built once per distinct header),
        with a validator that skips the fields the plan can only fill with valid values."""
        plan = self._row_plans.get(header)
        if plan is None:
            fields = self.rules.fields if self.coercer is not None else None
            field_map, keep = self.mapping.field_map, self.mapping.keep_unmapped
            build = compile_row_plan(header, field_map, keep, fields, self.list_delimiter)
            targets = [parts for _, parts in row_targets(header, field_map, keep)]
            validate = compile_row_validator(targets, self.rules, coerced=fields is not None)
            plan = self._row_plans[header] = (build, validate)
        return plan

    def make(self) -> Callable[[Any], Any]:
        """The per-record step as a closure over locals (the hot path of every pass)."""
        coercer = self.coercer
        mapper = self.mapper
        transform = self.mapping.transform
        validate = self.validate
        normalise = self.normalise
        encode = ENCODER.encode
        room = self.room
        max_batch_bytes = self.max_batch_bytes
        row_plan = self.row_plan
        plan_header: tuple[str, ...] | None = None
        build_row: Callable[[list[str]], dict[str, Any]] | None = None
        validate_row: Callable[[dict[str, Any]], list[Violation] | None] = validate
        unseen = self.unseen_columns = set(self.mapping.field_map or ())

        def normalised_or_errors(
            rec: dict[str, Any], errors: list[Violation]
        ) -> dict[str, Any] | list[Violation]:
            """A record that failed validation in its documented alternative form (one tag as
            a string, 5.0 for 5), validated again; or the violations. Off the hot path."""
            fixed = normalise(rec)
            if fixed is None:
                return errors
            return validate(fixed) or fixed

        def prepare(raw: Any) -> tuple[Any, bytes] | list[Violation] | object:
            """One source record -> (record, payload), violations, or FILTERED."""
            nonlocal plan_header, build_row, validate_row
            rec = raw
            if type(rec) is JsonLine:  # checked by the line check: its bytes are the payload
                if len(rec.data) > room:
                    return [too_big(len(rec.data), max_batch_bytes)]
                return None, rec.data
            if type(rec) is CsvRow:  # one pass: empty-cell drop, field_map and coercion
                if rec.header is not plan_header:
                    plan_header = rec.header
                    build_row, validate_row = row_plan(rec.header)
                    unseen.difference_update(rec.header)
                rec = build_row(rec.values)  # type: ignore[misc]
                if transform is None:
                    # Cells, coerced numbers (finite), booleans, lists and dicts: always JSON.
                    errors = validate_row(rec)
                    if errors:
                        rec = normalised_or_errors(rec, errors)
                        if type(rec) is list:
                            return rec
                    payload = encode(rec)
                    if len(payload) > room:
                        return [too_big(len(payload), max_batch_bytes)]
                    return rec, payload
            else:
                if type(rec) is not dict:
                    if type(raw) is Unreadable:
                        return [Violation(RECORD_FIELD, raw.rule, raw.message)]
                    if not isinstance(rec, Mapping):
                        return [not_an_object(rec)]
                    rec = dict(rec)
                if unseen:  # until every field_map column has shown up once
                    unseen.difference_update([name for name in unseen if name in rec])
                if coercer is not None:
                    rec = {k: v for k, v in rec.items() if v is not None and v != ""}
                if mapper is not None:
                    rec = mapper(rec)
                if coercer is not None:
                    rec = coercer(rec)
            if transform is not None:
                rec = transform(dict(rec) if rec is raw else rec)
                if rec is None:
                    return FILTERED
                if type(rec) is not dict:
                    if not isinstance(rec, Mapping):
                        return [not_an_object(rec, "transform returned")]
                    rec = dict(rec)
            errors = validate(rec)
            if errors:
                rec = normalised_or_errors(rec, errors)
                if type(rec) is list:
                    return rec
            try:
                payload = encode(rec)
            except (TypeError, ValueError, OverflowError, RecursionError) as exc:
                return [
                    Violation(RECORD_FIELD, "not_serializable", f"not JSON serialisable: {exc}")
                ]
            if b"null" in payload or b"NaN" in payload or b"Infinity" in payload:
                where = find_non_finite(rec)
                if where is not None:
                    return [
                        Violation(where, "finite_number", "NaN and infinity are not valid JSON")
                    ]
            if len(payload) > room:
                return [too_big(len(payload), max_batch_bytes)]
            return rec, payload

        return prepare


def original(raw: Any) -> Any:
    """The source record as the user sees it (rejects file, InvalidRecordError.record)."""
    if type(raw) is CsvRow:
        return raw.as_dict()
    if type(raw) is JsonLine:
        return raw.decode()
    return raw.raw if type(raw) is Unreadable else raw


def too_big(size: int, max_batch_bytes: int) -> Violation:
    return Violation(
        RECORD_FIELD,
        "max_bytes",
        f"record is {size} bytes serialised; a request body may hold at most {max_batch_bytes}",
    )


def not_an_object(value: Any, what: str = "record is") -> Violation:
    return Violation(
        RECORD_FIELD, "not_an_object", f"{what} a {type(value).__name__}, not an object"
    )
