"""RecordPipeline behaviour: mapping, coercion, on_invalid, chunking, byte cap, resume, dedupe."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pendulum
import pytest

from airflow_provider_drip.records import (
    Chunk,
    InvalidRecordError,
    PreflightReport,
    RecordPipeline,
)
from airflow_provider_drip.resources import RESOURCES


def subs(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {"email": f"u{i:03d}@example.com", "first_name": "Ann"} for i in range(start, start + n)
    ]


def sent(p: RecordPipeline, start: int = 0) -> list[dict[str, Any]]:
    return [r for c in p.chunks(start) for r in c.records()]


# -- mapping and coercion ------------------------------------------------------------------------


def test_field_map_with_dotted_targets_and_passthrough() -> None:
    rows = [{"mail": "a@b.co", "size": "M", "town": "Oslo", "note": "x"}]
    fm = {"mail": "email", "size": "custom_fields.shirt_size", "town": "custom_fields.city"}
    assert sent(RecordPipeline("subscribers", records=rows, field_map=fm)) == [
        {"note": "x", "email": "a@b.co", "custom_fields": {"shirt_size": "M", "city": "Oslo"}}
    ]
    dropped = RecordPipeline("subscribers", records=rows, field_map=fm, keep_unmapped=False)
    assert sent(dropped) == [
        {"email": "a@b.co", "custom_fields": {"shirt_size": "M", "city": "Oslo"}}
    ]
    assert rows[0] == {"mail": "a@b.co", "size": "M", "town": "Oslo", "note": "x"}  # untouched


def test_field_map_nests_legacy_order_addresses() -> None:
    rows = [{"email": "a@b.co", "amount": 100, "bcity": "Billtown", "bzip": "01234"}]
    fm = {"bcity": "billing_address.city", "bzip": "billing_address.zip"}
    out = sent(RecordPipeline("orders", records=rows, field_map=fm))
    assert out[0]["billing_address"] == {"city": "Billtown", "zip": "01234"}


def test_field_map_rejects_bad_targets() -> None:
    with pytest.raises(ValueError, match="empty path segment"):
        RecordPipeline("subscribers", records=[], field_map={"a": "custom_fields."})


def test_csv_coercions_per_field_table(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text(
        "email,tags,remove_tags,sms_consent,prospect,lifetime_value,base_lead_score,zip,size,note\n"
        'a@b.co,"Customer, SEO ,",Lead,TRUE,no,1200,30.0,01234,M,\n'
        "c@d.co,,,,,,,,,\n"
    )
    p = RecordPipeline(
        "subscribers", source=str(path), field_map={"size": "custom_fields.shirt_size"}
    )
    assert sent(p) == [
        {
            "email": "a@b.co",
            "tags": ["Customer", "SEO"],
            "remove_tags": ["Lead"],
            "sms_consent": True,
            "prospect": False,
            "lifetime_value": 1200,
            "base_lead_score": 30,
            "zip": "01234",
            "custom_fields": {"shirt_size": "M"},
        },
        {"email": "c@d.co"},
    ]


def test_csv_values_that_cannot_be_coerced_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("email,sms_consent,lifetime_value\na@b.co,maybe,nan\n")
    p = RecordPipeline("subscribers", source=str(path), on_invalid="skip")
    assert p.check().rejected_by_rule == {"type": 2}


def test_csv_list_delimiter_and_nested_coercion(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(
        "provider,action,product_id,product_variant_id,name,price,inventory,categories\n"
        "shop,created,1,1-a,Mug,9.50,3,Kitchen|Gifts\n"
    )
    p = RecordPipeline("product", source=str(path), list_delimiter="|")
    assert sent(p) == [
        {
            "provider": "shop",
            "action": "created",
            "product_id": "1",
            "product_variant_id": "1-a",
            "name": "Mug",
            "price": 9.5,
            "inventory": 3,
            "categories": ["Kitchen", "Gifts"],
        }
    ]
    ev = tmp_path / "e.csv"
    ev.write_text("email,action,val\na@b.co,Bought,1200\n")
    out = sent(RecordPipeline("events", source=str(ev), field_map={"val": "properties.value"}))
    assert out == [{"email": "a@b.co", "action": "Bought", "properties": {"value": 1200}}]


def test_no_coercion_for_json_sources_unless_asked() -> None:
    rows = [{"email": "a@b.co", "lifetime_value": "12"}]
    with pytest.raises(InvalidRecordError):
        RecordPipeline("subscribers", records=rows).check()
    assert sent(RecordPipeline("subscribers", records=rows, coerce=True)) == [
        {"email": "a@b.co", "lifetime_value": 12}
    ]


def test_transform_runs_after_mapping_and_none_filters() -> None:
    rows = [{"mail": "A@B.CO"}, {"mail": "skip@me.co"}, {"mail": "c@d.co"}]

    def lower(rec: dict[str, Any]) -> dict[str, Any] | None:
        if rec["email"].startswith("skip"):
            return None
        rec["email"] = rec["email"].lower()
        return rec

    p = RecordPipeline("subscribers", records=rows, field_map={"mail": "email"}, transform=lower)
    assert sent(p) == [{"email": "a@b.co"}, {"email": "c@d.co"}]
    assert p.stats.records_filtered == 1
    report = p.check()
    assert (report.total, report.valid, report.filtered, report.to_send) == (3, 2, 1, 2)


def test_transform_does_not_mutate_the_callers_records() -> None:
    rows = [{"email": "a@b.co"}]

    def tag(rec: dict[str, Any]) -> dict[str, Any]:
        rec["tags"] = ["x"]
        return rec

    assert sent(RecordPipeline("subscribers", records=rows, transform=tag))[0]["tags"] == ["x"]
    assert rows == [{"email": "a@b.co"}]


def test_transform_returning_a_non_mapping_is_rejected() -> None:
    p = RecordPipeline("subscribers", records=[{"email": "a@b.co"}], transform=lambda r: [r])
    with pytest.raises(InvalidRecordError) as info:
        p.check()
    assert info.value.rule == "not_an_object"


# -- serialisation -------------------------------------------------------------------------------


def test_dates_decimals_and_pendulum_serialise_to_json() -> None:
    rows = [
        {
            "email": "a@b.co",
            "action": "Paid",
            "occurred_at": pendulum.datetime(2024, 5, 1, 12, tz="UTC"),
            "properties": {
                "value": Decimal("1999"),
                "at": datetime(2024, 5, 1, tzinfo=timezone.utc),
            },
        }
    ]
    (chunk,) = RecordPipeline("events", records=rows).chunks()
    assert chunk.records() == [
        {
            "email": "a@b.co",
            "action": "Paid",
            "occurred_at": "2024-05-01T12:00:00+00:00",
            "properties": {"value": 1999, "at": "2024-05-01T00:00:00Z"},
        }
    ]


@pytest.mark.parametrize(
    ("value", "rule", "field"),
    [
        (float("nan"), "finite_number", "custom_fields.score"),
        (Decimal("-Infinity"), "finite_number", "custom_fields.score"),
        (object(), "not_serializable", "<record>"),
    ],
)
def test_unserialisable_values_are_rejected(value: Any, rule: str, field: str) -> None:
    rows = [{"email": "a@b.co", "custom_fields": {"score": value}}]
    with pytest.raises(InvalidRecordError) as info:
        RecordPipeline("subscribers", records=rows).check()
    assert (info.value.rule, info.value.field) == (rule, field)


def test_null_values_are_kept_without_false_nan_alarms() -> None:
    rows = [{"email": "a@b.co", "first_name": None, "last_name": "NaN Infinity"}]
    assert sent(RecordPipeline("subscribers", records=rows)) == rows


@pytest.mark.parametrize("name", sorted(RESOURCES))
def test_chunk_body_matches_json_dumps_of_the_envelope(name: str) -> None:
    resource = RESOURCES[name]
    rows = [{"k": i, "s": "é\u2028\"'", "n": None, "l": [1.5, True]} for i in range(3)]
    chunk = Chunk(0, 3, [json.dumps(r, separators=(",", ":")).encode() for r in rows])
    expected = json.dumps(resource.envelope(rows), separators=(",", ":"))
    assert json.loads(chunk.body(resource)) == json.loads(expected)
    assert chunk.body(name) == chunk.body(resource)
    assert len(chunk) == 3 and chunk.records() == rows


# -- on_invalid and rejects ----------------------------------------------------------------------

MIXED = [
    {"email": "a@b.co"},
    {"email": "not-an-email"},
    {"first_name": "nobody"},
    {"email": "c@d.co", "tags": "x"},
    {"email": "e@f.co", "status": "gone", "lifetime_value": "x"},
]


def test_fail_mode_raises_at_the_first_invalid_record() -> None:
    p = RecordPipeline("subscribers", records=MIXED)
    with pytest.raises(InvalidRecordError) as info:
        p.check()
    err = info.value
    assert (err.position, err.field, err.rule, err.record) == (
        1,
        "email",
        "email_format",
        {"email": "not-an-email"},
    )
    assert "position 1" in str(err) and "email_format" in str(err)
    with pytest.raises(InvalidRecordError):
        list(p.chunks())


def test_skip_mode_writes_complete_rejects_file(tmp_path: Path) -> None:
    rejects = tmp_path / "out" / "rejects.jsonl"
    p = RecordPipeline(
        "subscribers", records=MIXED, on_invalid="skip", rejects_path=str(rejects), batch_size=1
    )
    report = p.check()
    assert isinstance(report, PreflightReport)
    assert (report.total, report.valid, report.rejected, report.to_send, report.chunks) == (
        5,
        2,
        3,
        2,
        2,
    )
    assert report.rejected_by_rule == {
        "email_format": 1,
        "one_of_required": 1,
        "enum": 1,
        "type": 1,
    }
    lines = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [line["position"] for line in lines] == [1, 2, 4]
    assert lines[0]["record"] == {"email": "not-an-email"}
    assert lines[2]["reasons"] == [
        {
            "field": "status",
            "rule": "enum",
            "message": "'gone' is not one of: active, unsubscribed",
        },
        {"field": "lifetime_value", "rule": "type", "message": "expected integer, got str"},
    ]
    # A resume still rewrites the whole file, earlier positions included.
    chunks = list(p.chunks(start=3))
    assert [(c.start, c.end) for c in chunks] == [(3, 5)]
    assert [json.loads(x)["position"] for x in rejects.read_text().splitlines()] == [1, 2, 4]
    assert p.stats.records_rejected == 3 and p.stats.records_read == 5


def test_rejects_keep_the_original_source_record(tmp_path: Path) -> None:
    rejects = tmp_path / "r.jsonl"
    rows = [{"mail": "bad", "when": datetime(2024, 1, 1)}]
    p = RecordPipeline(
        "subscribers",
        records=rows,
        field_map={"mail": "email"},
        on_invalid="skip",
        rejects_path=rejects,
    )
    p.check()
    (line,) = [json.loads(x) for x in rejects.read_text().splitlines()]
    assert line["record"] == {"mail": "bad", "when": "2024-01-01T00:00:00"}


# -- chunking ------------------------------------------------------------------------------------


def test_chunk_sizes_and_tiling_ranges() -> None:
    rows = subs(10)
    rows[4] = {"nope": 1}
    rows[9] = {"nope": 2}
    p = RecordPipeline("subscribers", records=rows, on_invalid="skip", batch_size=3)
    chunks = list(p.chunks())
    assert [len(c) for c in chunks] == [3, 3, 2]
    assert [(c.start, c.end) for c in chunks] == [(0, 3), (3, 7), (7, 10)]
    assert p.stats.chunks_emitted == 3 and p.stats.records_emitted == 8


def test_byte_cap_splits_chunks_and_never_exceeds_it() -> None:
    rows = subs(50)
    one = len(json.dumps(rows[0], separators=(",", ":")))
    prefix, suffix = RESOURCES["subscribers"].envelope_prefix_suffix()
    cap = len(prefix) + len(suffix) + 4 * one + 3  # exactly four records
    p = RecordPipeline("subscribers", records=rows, max_batch_bytes=cap)
    chunks = list(p.chunks())
    assert all(len(c.body("subscribers")) <= cap for c in chunks)
    assert [len(c) for c in chunks[:-1]] == [4] * 12 and len(chunks[-1]) == 2
    assert [r for c in chunks for r in c.records()] == rows


def test_record_larger_than_the_cap_is_rejected() -> None:
    rows = [{"email": "a@b.co"}, {"email": "b@b.co", "first_name": "x" * 500}]
    p = RecordPipeline("subscribers", records=rows, max_batch_bytes=300, on_invalid="skip")
    assert p.check().rejected_by_rule == {"max_bytes": 1}


@pytest.mark.parametrize("bad", [0, 1001, "10", True])
def test_batch_size_bounds(bad: Any) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        RecordPipeline("subscribers", records=[], batch_size=bad)


def test_parameter_errors() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        RecordPipeline("subscribers")
    with pytest.raises(ValueError, match="on_invalid"):
        RecordPipeline("subscribers", records=[], on_invalid="warn")
    with pytest.raises(ValueError, match="Unknown Drip batch resource"):
        RecordPipeline("contacts", records=[])
    with pytest.raises(ValueError, match="identity"):
        RecordPipeline("events", records=[], dedupe=True)
    with pytest.raises(ValueError, match="start"):
        RecordPipeline("subscribers", records=[]).chunks(-1)


# -- resume, determinism, fingerprint ------------------------------------------------------------


def test_resume_at_every_boundary_yields_the_remaining_chunks() -> None:
    rows = subs(23)
    rows[5] = {"bad": True}
    p = RecordPipeline("subscribers", records=rows, on_invalid="skip", batch_size=4)
    full = list(p.chunks())
    for i, chunk in enumerate(full):
        assert list(p.chunks(start=chunk.start)) == full[i:]
        assert list(p.chunks(start=chunk.end)) == full[i + 1 :]
    assert list(p.chunks(start=10**6)) == []


def test_resume_mid_chunk_skips_earlier_positions() -> None:
    p = RecordPipeline("subscribers", records=subs(10), batch_size=4)
    assert [r["email"] for r in sent(p, start=6)] == [f"u{i:03d}@example.com" for i in range(6, 10)]


def test_generator_input_is_spooled_and_re_readable() -> None:
    p = RecordPipeline("subscribers", records=(r for r in subs(5)), batch_size=2)
    assert p.total_hint is None
    fp = p.fingerprint()
    assert p.total_hint == 5
    assert p.check().total == 5
    assert sent(p) == subs(5) and sent(p, start=2) == subs(3, start=2)
    assert fp == RecordPipeline("subscribers", records=iter(subs(5)), batch_size=2).fingerprint()


def test_total_hint() -> None:
    assert RecordPipeline("subscribers", records=subs(3)).total_hint == 3


def test_fingerprint_tracks_input_and_chunking_parameters(tmp_path: Path) -> None:
    base = RecordPipeline("subscribers", records=subs(5)).fingerprint()
    assert base == RecordPipeline("subscribers", records=subs(5)).fingerprint()
    assert base == RecordPipeline("subscribers", records=subs(5), on_invalid="skip").fingerprint()
    others = [
        RecordPipeline("subscribers", records=subs(6)),
        RecordPipeline("subscribers", records=subs(5, start=1)),
        RecordPipeline("unsubscribes", records=subs(5)),
        RecordPipeline("subscribers", records=subs(5), batch_size=999),
        RecordPipeline("subscribers", records=subs(5), max_batch_bytes=10**6),
        RecordPipeline("subscribers", records=subs(5), dedupe=True),
        RecordPipeline("subscribers", records=subs(5), field_map={"a": "b"}),
        RecordPipeline("subscribers", records=subs(5), transform=dict),
    ]
    assert len({base, *(p.fingerprint() for p in others)}) == len(others) + 1

    path = tmp_path / "a.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in subs(5)))
    fp1 = RecordPipeline("subscribers", source=str(path)).fingerprint()
    assert fp1 == RecordPipeline("subscribers", source=str(path)).fingerprint()
    path.write_text("\n".join(json.dumps(r) for r in subs(6)))
    assert RecordPipeline("subscribers", source=str(path)).fingerprint() != fp1


def test_fingerprint_and_chunks_are_identical_in_another_process(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in subs(30)))
    script = textwrap.dedent(
        f"""
        import hashlib
        from airflow_provider_drip.records import RecordPipeline
        p = RecordPipeline("subscribers", source={str(path)!r}, batch_size=7)
        q = RecordPipeline("subscribers", records=[{{"email": "a@b.co", "x": {{"b": 1, "a": 2}}}}])
        h = hashlib.sha256(repr([(c.start, c.end, c.payloads) for c in p.chunks()]).encode())
        print(p.fingerprint(), q.fingerprint(), h.hexdigest())
        """
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(runs) == 1


# -- dedupe --------------------------------------------------------------------------------------


def test_dedupe_keeps_the_last_valid_record_per_identity() -> None:
    rows = [
        {"email": "A@x.co", "first_name": "old"},
        {"id": "s1", "first_name": "first"},
        {"email": "b@x.co"},
        {"email": "a@X.co", "first_name": "new"},
        {"id": "s1", "first_name": "second"},
        {"email": "b@x.co", "status": "bogus"},  # invalid: the earlier b@x.co stays
    ]
    p = RecordPipeline("subscribers", records=rows, dedupe=True, on_invalid="skip", batch_size=2)
    assert sent(p) == [rows[2], rows[3], rows[4]]
    assert (p.stats.records_deduplicated, p.stats.records_rejected) == (2, 1)
    report = p.check()
    assert (report.valid, report.deduplicated, report.to_send) == (5, 2, 3)
    full = list(p.chunks())
    assert list(p.chunks(start=full[0].end)) == full[1:]


def test_dedupe_by_shopper_activity_identity() -> None:
    base = {"provider": "p", "action": "created", "name": "n", "price": 1}
    rows = [
        {**base, "product_id": "1", "product_variant_id": "1-a", "price": 1},
        {**base, "product_id": "1", "product_variant_id": "1-b"},
        {**base, "product_id": "1", "product_variant_id": "1-a", "price": 2},
    ]
    out = sent(RecordPipeline("product", records=rows, dedupe=True))
    assert [(r["product_variant_id"], r["price"]) for r in out] == [("1-b", 1), ("1-a", 2)]


def test_stats_update_while_chunks_are_consumed() -> None:
    p = RecordPipeline("subscribers", records=subs(10), batch_size=3)
    it = p.chunks()
    next(it)
    assert p.stats.chunks_emitted == 1 and p.stats.records_emitted == 3
    assert p.stats.records_read == 4  # the record that closed the chunk
    list(it)
    assert p.stats.as_dict()["chunks_emitted"] == 4 and p.stats.records_read == 10


def test_background_pass_hands_over_the_gil_every_n_records(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The sync loop's prefetch thread must let the HTTP thread run between records."""
    import time

    from airflow_provider_drip.records import pipeline as pipeline_module

    calls: list[float] = []
    monkeypatch.setattr(time, "sleep", calls.append)
    rows = [{"email": f"u{i}@x.co"} for i in range(1000)]
    every = pipeline_module.HAND_OVER_GIL_EVERY

    sent = sum(len(c) for c in RecordPipeline("subscribers", records=rows).chunks())
    assert (sent, calls) == (1000, [])  # a foreground pass never yields

    sent = sum(len(c) for c in RecordPipeline("subscribers", records=rows).chunks(background=True))
    assert (sent, calls) == (1000, [0] * (1000 // every))
