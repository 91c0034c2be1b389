"""The one-pass CSV row plan equals DictReader + drop-empty + field_map + coerce, step by step."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_drip.records import RecordPipeline
from airflow_provider_drip.records.field_tables import RULES, get_rules
from airflow_provider_drip.records.mapping import (
    compile_coercer,
    compile_field_map,
    compile_row_plan,
    row_targets,
)
from airflow_provider_drip.records.readers import CsvRow, _read_csv
from airflow_provider_drip.records.validate import compile_row_validator, compile_validator

COLUMNS = ["email", "tags", "lifetime_value", "prospect", "properties", "value", "x", "a.b", ""]
COLUMNS += ["id", "action", "first_name", "custom_fields", "eu_consent", "occurred_at", "amount"]
TARGETS = ["email", "tags", "properties.value", "properties.note", "custom_fields.plan", "x.y.z"]
TARGETS += ["id", "first_name", "custom_fields", "email.x", "tags.x", "action", "items.name"]
CELLS = ["", " ", "12", " 7 ", "1.5", "1e3", "nan", "true", "TRUE", "no", "a|b| ", "x", "1_000"]
CELLS += ["a@b.co", "granted", "2024-01-02", "3e9"]
ROWS = {
    "header": st.lists(st.sampled_from(COLUMNS), min_size=0, max_size=7),
    "cells": st.lists(st.sampled_from(CELLS), max_size=8),
    "field_map": st.dictionaries(st.sampled_from(COLUMNS), st.sampled_from(TARGETS), max_size=4),
    "keep": st.booleans(),
    "resource": st.sampled_from(sorted(RULES)),
    "coerce": st.booleans(),
}
"""A CSV header, a row under it, a field_map and the pipeline settings that shape a row plan."""


def reference(
    row: dict[str, Any], field_map: dict[str, str], keep: bool, resource: str, coerce: bool
) -> dict[str, Any]:
    """The pipeline's original per-record steps (pipeline.prepare before the CSV plan)."""
    fields = get_rules(resource).fields
    mapper = compile_field_map(field_map, keep)
    rec = dict(row)
    if coerce:
        rec = {k: v for k, v in rec.items() if v is not None and v != ""}
    if mapper is not None:
        rec = mapper(rec)
    if coerce:
        rec = compile_coercer(fields, "|")(rec)
    return rec


@settings(max_examples=300, deadline=None)
@given(**ROWS)
def test_row_plan_matches_the_step_by_step_result(
    header: list[str],
    cells: list[str],
    field_map: dict[str, str],
    keep: bool,
    resource: str,
    coerce: bool,
) -> None:
    values = cells[: len(header)]  # short rows allowed; longer ones are rejected before this
    row = CsvRow(tuple(header), values)
    fields = get_rules(resource).fields if coerce else None
    plan = compile_row_plan(tuple(header), field_map, keep, fields, "|")
    got = plan(values)
    want = reference(row.as_dict(), field_map, keep, resource, coerce)
    assert got == want
    assert list(got) == list(want)  # same key order, so the same JSON bytes


@settings(max_examples=500, deadline=None)
@given(**ROWS)
def test_row_validator_gives_the_full_validators_verdict(
    header: list[str],
    cells: list[str],
    field_map: dict[str, str],
    keep: bool,
    resource: str,
    coerce: bool,
) -> None:
    """The per-header validator skips fields the plan fills validly, and nothing else."""
    rules = get_rules(resource)
    values = cells[: len(header)]
    plan = compile_row_plan(tuple(header), field_map, keep, rules.fields if coerce else None, "|")
    rec = plan(values)
    targets = [parts for _, parts in row_targets(tuple(header), field_map, keep)]
    partial = compile_row_validator(targets, rules, coerced=coerce)
    assert partial(rec) == compile_validator(rules)(rec)


def test_csv_reader_matches_dictreader() -> None:
    text = "email,name,email\r\na@b.co,Ann,c@d.co\r\n\r\nx@y.co\r\n1,2,3,4\r\n,,\r\n"
    rows = list(_read_csv(io.BytesIO(text.encode()), "utf-8", ","))
    expected = list(csv.DictReader(io.StringIO(text, newline=""), restkey="\x00extra"))
    assert rows[0].as_dict() == expected[0] == {"email": "c@d.co", "name": "Ann"}
    assert rows[1].as_dict() == expected[1] == {"email": None, "name": None}  # as DictReader
    assert rows[2].raw == {"email": "3", "name": "2", "_extra_columns": ["4"]}
    assert rows[2].rule == "csv_columns"
    assert rows[3].as_dict() == expected[3]
    assert len(rows) == len(expected) == 4


def test_rejected_csv_rows_are_reported_as_the_source_dict(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("mail,ltv,spare\na@b.co,12,\nbad,x\n")
    rejects = tmp_path / "rejects.jsonl"
    p = RecordPipeline(
        "subscribers",
        source=str(path),
        field_map={"mail": "email", "ltv": "lifetime_value"},
        on_invalid="skip",
        rejects_path=rejects,
    )
    assert [c.records() for c in p.chunks()] == [[{"email": "a@b.co", "lifetime_value": 12}]]
    line = rejects.read_text().splitlines()
    assert len(line) == 1
    assert '"record":{"mail":"bad","ltv":"x","spare":null}' in line[0]
