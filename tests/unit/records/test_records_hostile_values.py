"""Values a hostile or careless caller hands over: each is a reject with its position, field and
rule (or a clear error), never a crash in the fingerprint, the spool or the encoder."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import pytest

from airflow_provider_drip.records import InvalidRecordError, RecordPipeline, readers
from airflow_provider_drip.records.errors import SourceFileError, UnknownColumnsError


def _deep(levels: int) -> dict:
    value: dict = {}
    for _ in range(levels):
        value = {"x": value}
    return value


def test_lone_surrogate_in_memory_is_a_reject_and_the_fingerprint_survives() -> None:
    records = [{"email": "a@example.com"}, {"email": "b@example.com", "first_name": "\udc80"}]
    p = RecordPipeline("subscribers", records=records, on_invalid="skip")
    assert len(p.fingerprint()) == 64
    assert sum(len(c) for c in p.chunks()) == 1
    assert p.stats.rejected_by_rule == {"not_serializable": 1}
    gen = RecordPipeline("subscribers", records=iter(records), on_invalid="skip")
    assert gen.fingerprint() == RecordPipeline("subscribers", records=records).fingerprint()


@pytest.mark.parametrize("one_shot", [False, True], ids=["list", "generator"])
def test_100000_levels_of_nesting_is_a_reject_with_its_position(one_shot: bool) -> None:
    records = [{"email": "a@example.com"}, {"email": "b@example.com", "extra": _deep(100_000)}]
    p = RecordPipeline(
        "subscribers", records=iter(records) if one_shot else records, on_invalid="skip"
    )
    p.fingerprint()
    assert sum(len(c) for c in p.chunks()) == 1
    assert p.stats.records_rejected == 1
    with pytest.raises(InvalidRecordError) as info:
        RecordPipeline("subscribers", records=records).check()
    assert info.value.position == 1 and info.value.rule in ("unsupported_type", "max_depth")


def test_deep_nesting_in_a_json_line_is_a_reject(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    deep = b'{"email": "b@example.com", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    path.write_bytes(b'{"email": "a@example.com"}\n' + deep + b"\n")
    p = RecordPipeline("subscribers", source=str(path), on_invalid="skip")
    assert sum(len(c) for c in p.chunks()) == 1
    assert p.stats.rejected_by_rule == {"max_depth": 1}


def test_deep_nesting_in_a_json_array_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_bytes(b'[{"email": "a@example.com", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}]")
    with pytest.raises(SourceFileError, match=r"deep\.json.*max_depth"):
        RecordPipeline("subscribers", source=str(path), on_invalid="skip").check()


def test_csv_cell_over_the_field_limit_names_file_line_and_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "people.csv"
    path.write_text("email,note\na@example.com,x\nb@example.com," + "y" * 5000 + "\n")
    old = csv.field_size_limit()
    monkeypatch.setattr(readers, "CSV_FIELD_LIMIT", 1000)
    csv.field_size_limit(1000)
    try:
        with pytest.raises(SourceFileError) as info:
            RecordPipeline("subscribers", source=str(path), on_invalid="skip").check()
    finally:
        csv.field_size_limit(old)
    assert info.value.rule == "csv_field_size"
    assert "people.csv" in str(info.value) and "CSV line 3" in str(info.value)


def test_field_map_column_that_never_appears_fails_the_preflight(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("email,first\na@example.com,Ann\n")
    p = RecordPipeline(
        "subscribers", source=str(path), field_map={"frist": "first_name", "email": "email"}
    )
    with pytest.raises(UnknownColumnsError, match=r"'frist'.*people\.csv.*nothing was sent"):
        p.check()
    records = [{"email": "a@example.com", "first": "Ann"}]
    with pytest.raises(UnknownColumnsError, match="'frist'"):
        RecordPipeline("subscribers", records=records, field_map={"frist": "first_name"}).check()
    ok = RecordPipeline("subscribers", records=records, field_map={"first": "first_name"})
    assert ok.check().to_send == 1


def test_field_map_column_that_never_appears_warns_in_skip_mode(
    caplog: pytest.LogCaptureFixture,
) -> None:
    records = [{"email": "a@example.com", "first": "Ann"}]
    p = RecordPipeline(
        "subscribers", records=records, field_map={"frist": "first_name"}, on_invalid="skip"
    )
    with caplog.at_level(logging.WARNING):
        assert sum(len(c) for c in p.chunks()) == 1
        assert sum(len(c) for c in p.chunks()) == 1
    warnings = [r for r in caplog.records if "'frist'" in r.getMessage()]
    assert len(warnings) == 1  # once per pipeline, not per pass
    assert "nothing was sent" not in warnings[0].getMessage()


def test_a_column_seen_only_late_or_empty_counts_as_seen() -> None:
    records = [{"email": "a@example.com"}, {"email": "b@example.com", "first": ""}]
    p = RecordPipeline("subscribers", records=records, field_map={"first": "first_name"})
    assert p.check().to_send == 2
    assert json.loads(json.dumps(p.stats.as_dict()))["records_read"] == 2
