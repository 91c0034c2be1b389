"""The rejects file never touches the input: a rejects_path that is the source, or lies where
the source is read from, is refused up front with nothing written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from airflow.sdk import ObjectStoragePath

from airflow_provider_drip.records import RecordPipeline


def _source(path: Path, n: int = 3) -> Path:
    path.write_text("".join(json.dumps({"email": f"u{i}@example.com"}) + "\n" for i in range(n)))
    return path


def test_rejects_path_equal_to_the_source_is_refused_and_nothing_touched(tmp_path: Path) -> None:
    src = _source(tmp_path / "people.jsonl")
    before = src.read_bytes()
    for rejects in (str(src), src, f"file://{src}", tmp_path / "x" / ".." / "people.jsonl"):
        with pytest.raises(ValueError, match="is the source file"):
            RecordPipeline("subscribers", source=str(src), on_invalid="skip", rejects_path=rejects)
    assert src.read_bytes() == before


def test_rejects_path_through_a_symlink_or_object_storage_path(tmp_path: Path) -> None:
    src = _source(tmp_path / "people.jsonl")
    link = tmp_path / "link.jsonl"
    os.symlink(src, link)
    with pytest.raises(ValueError, match="is the source file"):
        RecordPipeline("subscribers", source=str(src), on_invalid="skip", rejects_path=str(link))
    with pytest.raises(ValueError, match="is the source file"):
        RecordPipeline(
            "subscribers",
            source=ObjectStoragePath(f"file://{src}"),
            on_invalid="skip",
            rejects_path=ObjectStoragePath(f"file://{src}"),
        )
    assert len(src.read_text().splitlines()) == 3


def test_rejects_path_inside_the_source_directory_or_glob_is_refused(tmp_path: Path) -> None:
    d = tmp_path / "export"
    d.mkdir()
    _source(d / "a.jsonl")
    with pytest.raises(ValueError, match="inside the source directory"):
        RecordPipeline(
            "subscribers", source=str(d), on_invalid="skip", rejects_path=d / "sub" / "r.jsonl"
        )
    with pytest.raises(ValueError, match="matches the source glob"):
        RecordPipeline(
            "subscribers",
            source=str(d / "*.jsonl"),
            on_invalid="skip",
            rejects_path=d / "rejects.jsonl",
        )
    assert sorted(p.name for p in d.iterdir()) == ["a.jsonl"]


def test_rejects_path_beside_the_source_is_fine(tmp_path: Path) -> None:
    d = tmp_path / "export"
    d.mkdir()
    _source(d / "a.jsonl")
    for rejects in (tmp_path / "rejects.jsonl", d / "_rejects.jsonl", d / "rejects.csv"):
        source = str(d) if rejects.name.startswith("_") else str(d / "*.jsonl")
        p = RecordPipeline("subscribers", source=source, on_invalid="skip", rejects_path=rejects)
        assert sum(len(c) for c in p.chunks()) == 3
