"""Hostile files: bad bytes, broken containers, oversized cells. Each becomes a reject (with its
position, file, line and rule) or a file-level error naming the file, never a raw crash."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_drip.records import InvalidRecordError, RecordPipeline
from airflow_provider_drip.records.errors import SourceFileError


def _jsonl_with_latin1_line(path: Path, total: int = 2511, bad: int = 2500) -> Path:
    lines = [json.dumps({"email": f"u{i}@example.com"}).encode() for i in range(total)]
    lines[bad] = '{"email": "bad@example.com", "first_name": "José"}'.encode("latin-1")
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_latin1_line_in_utf8_jsonl_is_a_reject_in_skip_mode(tmp_path: Path) -> None:
    path = _jsonl_with_latin1_line(tmp_path / "people.jsonl")
    rejects = tmp_path / "rejects.jsonl"
    p = RecordPipeline("subscribers", source=str(path), on_invalid="skip", rejects_path=rejects)
    sent = sum(len(c) for c in p.chunks())
    assert sent == 2510 and p.stats.rejected_by_rule == {"encoding": 1}
    (line,) = [json.loads(x) for x in rejects.read_text().splitlines()]
    assert line["position"] == 2500
    assert line["location"] == f"{path}, line 2501"
    assert line["reasons"][0]["rule"] == "encoding"
    assert "Jos\\xe9" in line["record"]  # the bad byte shown, the rest readable


def test_latin1_line_in_fail_mode_names_file_and_position_before_sending(tmp_path: Path) -> None:
    path = _jsonl_with_latin1_line(tmp_path / "people.jsonl")
    p = RecordPipeline("subscribers", source=str(path))
    with pytest.raises(InvalidRecordError) as info:
        p.check()
    err = info.value
    assert (err.position, err.rule) == (2500, "encoding")
    assert f"position 2500 ({path}, line 2501)" in str(err)


def test_latin1_line_on_the_python_path_too(tmp_path: Path) -> None:
    """A field_map turns the C line check off: the decode itself must reject the line."""
    path = _jsonl_with_latin1_line(tmp_path / "people.jsonl", total=5, bad=2)
    p = RecordPipeline(
        "subscribers", source=str(path), on_invalid="skip", field_map={"email": "email"}
    )
    assert sum(len(c) for c in p.chunks()) == 4 and p.stats.rejected_by_rule == {"encoding": 1}


def test_bad_bytes_in_csv_reject_the_row_with_its_csv_line(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    rows = [b"email,first_name"] + [f"u{i}@example.com,A{i}".encode() for i in range(6)]
    rows[4] = "u3@example.com,Jos\xe9".encode("latin-1")
    path.write_bytes(b"\n".join(rows) + b"\n")
    rejects = tmp_path / "r.jsonl"
    p = RecordPipeline("subscribers", source=str(path), on_invalid="skip", rejects_path=rejects)
    assert sum(len(c) for c in p.chunks()) == 5
    (line,) = [json.loads(x) for x in rejects.read_text().splitlines()]
    assert line["position"] == 3 and line["location"] == f"{path}, CSV line 5"
    assert line["reasons"][0]["rule"] == "encoding"
    with pytest.raises(InvalidRecordError, match=r"position 3 \(.*people.csv, CSV line 5\)"):
        RecordPipeline("subscribers", source=str(path)).check()


def test_bad_bytes_in_a_json_array_reject_that_element(tmp_path: Path) -> None:
    path = tmp_path / "people.json"
    good = [json.dumps({"email": f"u{i}@example.com"}).encode() for i in range(4)]
    good[1] = '{"email": "b@example.com", "first_name": "José"}'.encode("latin-1")
    path.write_bytes(b"[" + b",\n".join(good) + b"]")
    p = RecordPipeline("subscribers", source=str(path), on_invalid="skip")
    assert sum(len(c) for c in p.chunks()) == 3 and p.stats.rejected_by_rule == {"encoding": 1}
    with pytest.raises(InvalidRecordError, match=r"position 1 \(.*people.json, array element 2"):
        RecordPipeline("subscribers", source=str(path)).check()


def test_bad_bytes_under_a_declared_non_utf8_codec(tmp_path: Path) -> None:
    path = tmp_path / "people.jsonl"
    path.write_bytes(b'{"email": "a@example.com"}\n{"email": "b@example.com", "x": "\xff"}\n')
    p = RecordPipeline("subscribers", source=str(path), encoding="ascii", on_invalid="skip")
    assert sum(len(c) for c in p.chunks()) == 1 and p.stats.rejected_by_rule == {"encoding": 1}


def test_truncated_gzip_names_the_file(tmp_path: Path) -> None:
    data = gzip.compress(
        b"".join(json.dumps({"email": f"u{i}@example.com"}).encode() + b"\n" for i in range(2000))
    )
    path = tmp_path / "people.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceFileError) as info:
        RecordPipeline("subscribers", source=str(path)).check()
    assert str(path) in str(info.value) and "line" in str(info.value)
    assert info.value.rule == "unreadable_file"


def test_corrupt_parquet_names_the_file(tmp_path: Path) -> None:
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([{"email": "a@example.com"}] * 10), buf)
    path = tmp_path / "people.parquet"
    path.write_bytes(buf.getvalue()[:-20])
    with pytest.raises(SourceFileError, match=r"people\.parquet"):
        RecordPipeline("subscribers", source=str(path)).check()


def test_utf16_file_read_as_utf8_codec_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes("email\na@example.com\n".encode("utf-16"))
    p = RecordPipeline("subscribers", source=str(path), encoding="utf-32", on_invalid="skip")
    with pytest.raises(SourceFileError, match=r"people\.csv"):
        p.check()


def test_csv_cell_over_128_kib_is_read_and_judged_by_the_body_cap(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    text = io.StringIO()
    w = csv.writer(text)
    w.writerow(["email", "first_name"])
    w.writerow(["a@example.com", "A"])
    w.writerow(["b@example.com", "x" * 200_000])
    w.writerow(["c@example.com", "C"])
    path.write_text(text.getvalue())
    p = RecordPipeline("subscribers", source=str(path), on_invalid="skip", max_batch_bytes=100_000)
    assert sum(len(c) for c in p.chunks()) == 2 and p.stats.rejected_by_rule == {"max_bytes": 1}
    with pytest.raises(InvalidRecordError, match=r"position 1 \(.*CSV line 3\).*max_bytes"):
        RecordPipeline("subscribers", source=str(path), max_batch_bytes=100_000).check()


def test_parquet_string_cell_that_is_not_utf8_rejects_its_row(tmp_path: Path) -> None:
    names = pa.array([b"Ann", b"\xffbad", b"Cy"], pa.binary()).cast(pa.string(), safe=False)
    emails = [f"u{i}@example.com" for i in range(3)]
    path = tmp_path / "people.parquet"
    pq.write_table(pa.table({"email": emails, "first_name": names}), path)
    rejects = tmp_path / "r.jsonl"
    p = RecordPipeline("subscribers", source=str(path), on_invalid="skip", rejects_path=rejects)
    assert sum(len(c) for c in p.chunks()) == 2 and p.stats.rejected_by_rule == {"encoding": 1}
    (line,) = [json.loads(x) for x in rejects.read_text().splitlines()]
    assert (line["position"], line["location"]) == (1, f"{path}, row 2")
    assert line["record"]["first_name"] == "\\xffbad"


def test_parquet_binary_column_is_a_reject_not_base64(tmp_path: Path) -> None:
    photo = pa.array([None, b"\x89PNG"], pa.binary())
    path = tmp_path / "people.parquet"
    pq.write_table(pa.table({"email": ["a@example.com", "b@example.com"], "photo": photo}), path)
    p = RecordPipeline("subscribers", source=str(path), on_invalid="skip")
    assert sum(len(c) for c in p.chunks()) == 1
    assert p.stats.rejected_by_rule == {"unsupported_type": 1}
    with pytest.raises(InvalidRecordError, match=r"position 1 \(.*row 2\): photo: bytes"):
        RecordPipeline("subscribers", source=str(path)).check()


def test_a_broken_json_array_names_file_element_and_rule(tmp_path: Path) -> None:
    from airflow_provider_drip.records import JSONArrayError

    path = tmp_path / "people.json"
    path.write_text('[{"email": "a@example.com"}, {"email": ]')
    with pytest.raises(JSONArrayError) as info:
        RecordPipeline("subscribers", source=str(path), on_invalid="skip").check()
    text = str(info.value)
    assert "people.json" in text and "element 1" in text and text.endswith("[json_array]")
