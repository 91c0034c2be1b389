"""Streaming: peak memory for 100k records is not meaningfully above the peak for 10k."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import msgspec

from airflow_provider_drip.records import RecordPipeline


def _write(path: Path, n: int, fmt: str) -> None:
    enc = msgspec.json.encode
    with path.open("wb") as f:
        if fmt == "json":
            f.write(b"[")
        for i in range(n):
            rec = {"email": f"user{i}@example.com", "tags": ["a"], "lifetime_value": i}
            sep = b"," if fmt == "json" and i else b""
            f.write(sep + enc(rec) + (b"\n" if fmt == "jsonl" else b""))
        if fmt == "json":
            f.write(b"]")


def _peak(path: Path) -> tuple[int, int]:
    p = RecordPipeline("subscribers", source=str(path), on_invalid="skip")
    tracemalloc.start()
    try:
        sent = sum(len(c) for c in p.chunks())  # one full pass: read, validate, encode, chunk
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return sent, peak


def test_memory_stays_flat_for_jsonl_and_json_arrays(tmp_path: Path) -> None:
    for fmt, big in (("jsonl", 100_000), ("json", 20_000)):
        small_path, big_path = tmp_path / f"small.{fmt}", tmp_path / f"big.{fmt}"
        _write(small_path, big // 10, fmt)
        _write(big_path, big, fmt)
        n_small, small = _peak(small_path)
        n_big, large = _peak(big_path)
        assert (n_small, n_big) == (big // 10, big)
        # Loading the big file whole would take tens of MB; streaming stays within one chunk.
        assert large < small * 1.5 + 256 * 1024, (fmt, small, large)
        assert large < 8 * 1024 * 1024


def _generator_peak(n: int) -> tuple[int, int]:
    records = (
        {"email": f"user{i}@example.com", "tags": ["a"], "lifetime_value": i} for i in range(n)
    )
    p = RecordPipeline("subscribers", records=records, on_invalid="skip")
    p.fingerprint()  # spools the generator (and reads it back once)
    tracemalloc.start()
    try:
        sent = sum(len(c) for c in p.chunks())  # a pass reads the spool back
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return sent, peak


def test_memory_stays_flat_for_a_generator_source() -> None:
    """The spool of a one-shot iterator is read back without a growing unpickler memo (one
    Unpickler over the whole spool kept every record: 1M records took 624 MB)."""
    n_small, small = _generator_peak(10_000)
    n_big, large = _generator_peak(100_000)
    assert (n_small, n_big) == (10_000, 100_000)
    assert large < small * 1.5 + 256 * 1024, (small, large)
    assert large < 8 * 1024 * 1024
