"""The pipeline's parameters as specs: each group checked once, with errors that name the
parameter; and the operator's translation of its arguments into them."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_drip.exceptions import DripConfigError
from airflow_provider_drip.operators.drip import DripBatchUpsertOperator
from airflow_provider_drip.records import (
    BatchSpec,
    MappingSpec,
    RecordPipeline,
    RejectSpec,
    SourceSpec,
)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: SourceSpec(), "exactly one of records="),
        (lambda: SourceSpec(records=[], source="x.csv"), "exactly one of records="),
        (lambda: SourceSpec(records="a,b"), "iterable of mappings.*got a str"),
        (lambda: SourceSpec(records={"email": "a"}), "iterable of mappings.*got a dict"),
        (lambda: SourceSpec(source="x", source_format="xml"), "source_format must be one of"),
        (lambda: SourceSpec(source="x", csv_delimiter=";;"), "csv_delimiter must be one char"),
        (lambda: SourceSpec(source="x", encoding="klingon"), "encoding 'klingon' is not"),
        (lambda: SourceSpec(source="x", list_delimiter=""), "list_delimiter must be"),
        (lambda: MappingSpec(field_map={"a": ""}), "non-empty str"),
        (lambda: MappingSpec(field_map={"a": "x..y"}), "empty path segment"),
        (lambda: MappingSpec(field_map=["a"]), "field_map must be a mapping"),  # type: ignore[arg-type]
        (lambda: MappingSpec(transform="upper"), "transform must be a callable"),  # type: ignore[arg-type]
        (lambda: RejectSpec("ignore"), "on_invalid must be 'fail' or 'skip'"),
        (lambda: BatchSpec(0), "batch_size must be between 1 and 1000"),
        (lambda: BatchSpec(True), "batch_size must be an integer"),
        (lambda: BatchSpec(10, 0), "max_batch_bytes must be a positive integer"),
    ],
)
def test_each_spec_names_the_parameter_and_what_it_takes(build, message) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        build()


def test_from_specs_builds_the_same_pipeline_as_keywords(tmp_path: Path) -> None:
    records = [{"email": f"u{i}@example.com", "tags": "vip"} for i in range(5)]
    by_keywords = RecordPipeline("subscribers", records=records, batch_size=2)
    by_specs = RecordPipeline.from_specs(
        "subscribers", SourceSpec(records=records), batching=BatchSpec(2)
    )
    assert by_specs.fingerprint() == by_keywords.fingerprint()
    assert [c.payloads for c in by_specs.chunks()] == [c.payloads for c in by_keywords.chunks()]
    assert (by_specs.batch_size, by_specs.on_invalid) == (2, "fail")


def _op(**kwargs):
    return DripBatchUpsertOperator(task_id="load", resource="subscribers", **kwargs)


def test_operator_checks_its_parameters_once_at_parse_time() -> None:
    with pytest.raises(DripConfigError, match="load: batch_size must be between 1 and 1000"):
        _op(records=[], batch_size=5000)
    with pytest.raises(DripConfigError, match="load: on_invalid must be 'fail' or 'skip'"):
        _op(records=[], on_invalid="ignore")
    with pytest.raises(DripConfigError, match="load: transform must be a callable"):
        _op(records=[], transform="str.upper")


def test_upstream_that_returned_none_is_named() -> None:
    op = _op(records=[{"email": "a@example.com"}])
    op.records = None  # what rendering an XComArg of a task that returned None leaves
    with pytest.raises(DripConfigError, match="the upstream task returned None"):
        op._pipeline()


def test_operator_pipeline_gets_the_rendered_templated_parameters(tmp_path: Path) -> None:
    src = tmp_path / "people.jsonl"
    src.write_text('{"email": "a@example.com"}\n{"email": "bad"}\n')
    op = _op(source="{{ path }}", on_invalid="skip", rejects_path="{{ rejects }}", batch_size=7)
    op.source, op.rejects_path = str(src), str(tmp_path / "r.jsonl")  # as rendered
    p = op._pipeline()
    assert (p.batch_size, p.on_invalid, p.rejects_path) == (7, "skip", str(tmp_path / "r.jsonl"))
    assert sum(len(c) for c in p.chunks()) == 1
    op.rejects_path = str(src)
    with pytest.raises(DripConfigError, match=r"load: rejects_path .* is the source file"):
        op._pipeline()
    assert src.read_text().count("\n") == 2  # untouched
