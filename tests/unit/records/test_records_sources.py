"""Every source format, with and without gzip, plus directories, globs and ObjectStoragePath."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from airflow.sdk import ObjectStoragePath

from airflow_provider_drip.records import JSONArrayError, RecordPipeline, jsonarray
from airflow_provider_drip.records.sources import format_for

ROWS = [
    {"email": f"user{i}@example.com", "first_name": f"Név{i}", "lifetime_value": i * 100}
    for i in range(7)
]


def write(path: Path, fmt: str, rows: list[dict[str, Any]], gz: bool = False) -> Path:
    buf = io.BytesIO()
    if fmt == "jsonl":
        buf.write(b"".join(json.dumps(r).encode() + b"\n" for r in rows))
    elif fmt == "json":
        buf.write(json.dumps(rows, indent=2, ensure_ascii=False).encode())
    elif fmt == "csv":
        text = io.StringIO()
        w = csv.DictWriter(text, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
        buf.write(text.getvalue().encode())
    elif fmt == "parquet":
        pq.write_table(pa.Table.from_pylist(rows), buf)
    data = buf.getvalue()
    if gz:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def sent(p: RecordPipeline, start: int = 0) -> list[dict[str, Any]]:
    return [r for c in p.chunks(start) for r in c.records()]


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv", "parquet"])
def test_each_format_reads_the_same_records(tmp_path: Path, fmt: str, gz: bool) -> None:
    path = write(tmp_path / f"subs.{fmt}", fmt, ROWS, gz)
    p = RecordPipeline("subscribers", source=str(path), batch_size=3)
    assert sent(p) == ROWS  # CSV numbers come back as integers through coercion
    assert [(c.start, c.end) for c in p.chunks()] == [(0, 3), (3, 6), (6, 7)]


def test_ndjson_extension_and_explicit_format(tmp_path: Path) -> None:
    nd = write(tmp_path / "a.ndjson", "jsonl", ROWS)
    assert sent(RecordPipeline("subscribers", source=str(nd))) == ROWS
    odd = write(tmp_path / "export.txt", "jsonl", ROWS)
    with pytest.raises(ValueError, match="source_format"):
        RecordPipeline("subscribers", source=str(odd))
    assert sent(RecordPipeline("subscribers", source=str(odd), source_format="jsonl")) == ROWS


def test_format_detection() -> None:
    assert format_for("s3://b/x.JSONL.gz", None) == ("jsonl", True)
    assert format_for("x.pq", None) == ("parquet", False)
    assert format_for("x.tsv", None) == ("csv", False)
    assert format_for("x.data.gz", "csv") == ("csv", True)
    with pytest.raises(ValueError, match="source_format must be one of"):
        format_for("x.csv", "xml")


def test_directory_is_read_in_sorted_order_skipping_markers(tmp_path: Path) -> None:
    d = tmp_path / "export"
    (d / "sub").mkdir(parents=True)
    write(d / "b.jsonl", "jsonl", ROWS[2:4])
    write(d / "a.jsonl", "jsonl", ROWS[:2], gz=True)
    write(d / "sub" / "c.jsonl", "jsonl", ROWS[4:])
    (d / "_SUCCESS").write_text("")
    (d / ".part.crc").write_text("garbage")
    p = RecordPipeline("subscribers", source=str(d))
    assert sent(p) == ROWS


def test_glob_mixes_formats_in_path_order(tmp_path: Path) -> None:
    write(tmp_path / "part-1.csv", "csv", ROWS[:3])
    write(tmp_path / "part-2.parquet", "parquet", ROWS[3:5])
    write(tmp_path / "part-3.json", "json", ROWS[5:], gz=True)
    write(tmp_path / "other.jsonl", "jsonl", ROWS)
    p = RecordPipeline("subscribers", source=str(tmp_path / "part-*"))
    # Coercion is on for CSV-only sources; here the CSV ints stay strings and fail validation.
    assert not p.coerce
    p2 = RecordPipeline("subscribers", source=str(tmp_path / "part-*"), coerce=True)
    assert sent(p2) == ROWS


def test_object_storage_path_source(tmp_path: Path) -> None:
    path = write(tmp_path / "subs.jsonl", "jsonl", ROWS, gz=True)
    p = RecordPipeline("subscribers", source=ObjectStoragePath(f"file://{path}"))
    assert sent(p) == ROWS
    q = RecordPipeline("subscribers", source=ObjectStoragePath(f"file://{tmp_path}"))
    assert sent(q) == ROWS


def test_missing_source_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        RecordPipeline("subscribers", source=str(tmp_path / "nope.jsonl"))
    with pytest.raises(FileNotFoundError, match="No files match"):
        RecordPipeline("subscribers", source=str(tmp_path / "*.jsonl"))


def test_jsonl_bad_lines_are_record_level_rejects(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(
        b'\xef\xbb\xbf{"email": "a@b.co"}\n\n{"email": \n[1, 2]\n   \n{"email": "c@d.co"}'
    )
    p = RecordPipeline("subscribers", source=str(path), on_invalid="skip")
    report = p.check()
    assert (report.total, report.valid, report.rejected) == (4, 2, 2)
    assert report.rejected_by_rule == {"json_syntax": 1, "not_an_object": 1}
    assert [c.end for c in p.chunks()] == [4]


def test_csv_extra_columns_and_tsv(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("email,first_name\na@b.co,Ann\nc@d.co,Bo,extra\n")
    p = RecordPipeline("subscribers", source=str(path), on_invalid="skip")
    assert p.check().rejected_by_rule == {"csv_columns": 1}
    tsv = tmp_path / "x.tsv"
    tsv.write_text("email\tfirst_name\na@b.co\tAnn, Jr\n")
    assert sent(RecordPipeline("subscribers", source=str(tsv))) == [
        {"email": "a@b.co", "first_name": "Ann, Jr"}
    ]


def test_csv_with_other_encoding_and_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes("email;first_name\na@b.co;Zoë\n".encode("latin-1"))
    p = RecordPipeline("subscribers", source=str(path), csv_delimiter=";", encoding="latin-1")
    assert sent(p) == [{"email": "a@b.co", "first_name": "Zoë"}]


def test_parquet_nulls_are_absent_and_types_survive(tmp_path: Path) -> None:
    table = pa.Table.from_pylist(
        [
            {"email": "a@b.co", "id": None, "tags": ["x", "y"], "sms_consent": True},
            {"email": None, "id": "abc", "tags": None, "sms_consent": None},
        ]
    )
    pq.write_table(table, tmp_path / "x.parquet", row_group_size=1)
    p = RecordPipeline("subscribers", source=str(tmp_path / "x.parquet"))
    assert sent(p) == [
        {"email": "a@b.co", "tags": ["x", "y"], "sms_consent": True},
        {"id": "abc"},
    ]


class Trickle(io.RawIOBase):
    """A stream handing out a few bytes per read, to cut elements at every possible place."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.step, self.pos = data, step, 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        out = self.data[self.pos : self.pos + min(n, self.step)]
        self.pos += len(out)
        return out


@pytest.mark.parametrize("step", [1, 2, 3, 7, 64])
def test_json_array_reader_survives_any_cut(monkeypatch: pytest.MonkeyPatch, step: int) -> None:
    monkeypatch.setattr(jsonarray, "_CHUNK", 4)
    values = [
        {"a": 'x\\"]}, [', "n": 12345678901234567890, "f": -1.5e-3},
        {"nested": {"list": [1, 2, {"b": None}]}, "u": "ünïcødé ☃"},
        [],
        7,
    ]
    data = json.dumps(values, ensure_ascii=False).encode()
    assert list(jsonarray.iter_json_array(Trickle(data, step))) == values


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"email": "a@b.co"}', "expected a JSON array"),
        (b'[{"a": 1}, {"a": 2}', "unterminated|malformed"),
        (b'[{"a": 1} {"a": 2}]', "expected ','"),
        (b'[{"a": 1}, {"a": }]', "malformed JSON"),
        (b'[{"a": 1}] [2]', "unexpected data"),
    ],
)
def test_json_array_reader_rejects_malformed_files(data: bytes, message: str) -> None:
    with pytest.raises(JSONArrayError, match=message):
        list(jsonarray.iter_json_array(io.BytesIO(data)))


def test_empty_json_array_and_bom(tmp_path: Path) -> None:
    assert list(jsonarray.iter_json_array(io.BytesIO(b"  [ ] \n"))) == []
    assert list(jsonarray.iter_json_array(io.BytesIO(b'\xef\xbb\xbf[{"a":1}]'))) == [{"a": 1}]
