"""The JSON-lines shortcut never accepts what the validator rejects, and changes no pass."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_drip.records import InvalidRecordError, RecordPipeline
from airflow_provider_drip.records import field_tables as R
from airflow_provider_drip.records.jsonl_check import compile_line_check
from airflow_provider_drip.records.validate import compile_validator
from tests.unit.records.generated import build, kinds

# Values at the edges of every field type, offered to every field whatever its type.
EDGES: list[Any] = [
    None, "", " ", "x", "a@b.co", "a@b", "a b@c.co", "+15551234567", "+4415551234", "https://x.co/p",
    "HTTP://X.CO", "ftp://x.co", "https://", "2024-01-02T03:04:05Z", "2024-01-02", "2024-13-01",
    "yesterday", "granted", "active", "created", "placed", "deleted", 0, 1, -5, 2_147_483_646,
    2_147_483_647, 2**63, 2**64 + 1, 1.5, 5.0, -0.0, 1e308, True, False, [], ["a", "b"], ["a", 1],
    [{}], {}, {"value": 1}, {"value": "1"}, {"value": 3e9}, {"email": "bad"}, {"email": "ok@x.co"},
]  # fmt: skip


def typed_value(spec: R.Field, depth: int) -> st.SearchStrategy[Any]:
    """A value shaped like ``spec`` (often valid), nested tables included."""
    t = spec.type
    if t == R.OBJECT and spec.fields and depth < 2:
        return record(spec.fields, depth + 1)
    if t == R.ITEMS and depth < 2:
        return st.lists(record(spec.fields or {}, depth + 1), max_size=3)
    if spec.enum:
        return st.sampled_from(spec.enum)
    simple = {
        R.STRING: st.text(max_size=5), R.ID: st.one_of(st.text(max_size=3), st.integers()),
        R.NUMBER: st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False)),
        R.INTEGER: st.integers(), R.BOOLEAN: st.booleans(),
        R.LIST_OF_STRINGS: st.lists(st.text(max_size=3), max_size=3),
        R.DATETIME: st.datetimes().map(lambda d: d.isoformat()),
        R.EMAIL: st.sampled_from(["a@b.co", "x.y@z.example", "bad", "a@b"]),
        R.URL: st.sampled_from(["https://x.co/a", "http://h/", "x.co"]),
        R.SMS_NUMBER: st.sampled_from(["+15551234567", "5551234567"]),
    }  # fmt: skip
    return simple.get(t, st.just({}))


def record(fields: Any, depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    values = {
        name: st.one_of(typed_value(spec, depth), st.sampled_from(EDGES))
        for name, spec in fields.items()
    }
    known = st.fixed_dictionaries({}, optional=values)  # type: ignore[arg-type]
    unknown = st.dictionaries(
        st.sampled_from(["custom", "note"]), st.sampled_from(EDGES), max_size=1
    )
    return st.tuples(known, unknown, st.integers(0, 9)).map(
        lambda t: {**t[0], **t[1]} if t[2] == 0 else t[0]
    )


@pytest.mark.parametrize("resource", sorted(R.RULES))
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_never_accepts_what_the_validator_rejects(resource: str, data: Any) -> None:
    rules = R.get_rules(resource)
    rec = data.draw(record(rules.fields))
    line = msgspec.json.encode(rec)
    if compile_line_check(rules)(line):
        assert compile_validator(rules)(msgspec.json.decode(line)) is None, line


EXAMPLES = {
    "subscribers": {
        "email": "ada@example.com", "first_name": "Ada", "tags": ["vip"],
        "sms_number": "+15551234567",
        "custom_fields": {"plan": "pro", "n": [1, {"a": None}]}, "lifetime_value": 1000,
        "prospect": True, "eu_consent": "granted", "status": "active", "id": None,
    },
    "events": {"email": "a@b.co", "action": "Signed up", "occurred_at": "2024-01-02T03:04:05Z",
               "properties": {"value": 12.5}},
    "orders": {"id": 7, "amount": 1000, "permalink": "https://shop.example/o/1",
               "billing_address": {"email": "b@c.co"}, "items": [{"name": "Mug", "amount": 500}]},
    "product": {"provider": "shopify", "action": "created", "product_id": "p1",
                "product_variant_id": "v1", "name": "Mug", "price": 9.99, "categories": ["x"]},
}  # fmt: skip


@pytest.mark.parametrize("resource", sorted(EXAMPLES))
def test_accepts_well_formed_records(resource: str) -> None:
    """The shortcut is taken for ordinary records (otherwise it would be dead code)."""
    line = json.dumps(EXAMPLES[resource]).encode() + b"\r\n"
    assert compile_line_check(R.get_rules(resource))(line)


@pytest.mark.parametrize(
    "line",
    [
        b'{"email":"a@b.co","custom":1e400}',  # a Struct skips unknown values unchecked
        b'{"email":"a@b.co","custom_fields":{"x":1e400}}',
        b'{"email":"a@b.co","first_name":""}\n',  # fine for the validator, "" then checked
        b'{"email":"a@b.co","lifetime_value":5.0}',  # integral float: the validator decides
        b'\xef\xbb\xbf{"email":"a@b.co"}',
        b'{"email":"a@b.co","email":"bad"}',
        b'{"email":""}',
        b"[]",
        b"",
        b'{"email":"a@b.co"',
    ],
)
def test_unsure_lines_take_the_ordinary_path(line: bytes) -> None:
    accepts = compile_line_check(R.get_rules("subscribers"))
    if line == b'{"email":"a@b.co","first_name":""}\n':
        assert accepts(line)  # an empty optional string is valid either way
    else:
        assert not accepts(line)


def _pass(path: Path, fast: bool, **kw: Any) -> tuple[list[Any], dict[str, Any], str]:
    pipe = RecordPipeline("subscribers", source=str(path), batch_size=3, **kw)
    if not fast:
        pipe._accept_line = None
    chunks = [(c.start, c.end, c.records()) for c in pipe.chunks()]
    rejects = Path(kw["rejects_path"]).read_text() if kw.get("rejects_path") else ""
    return chunks, pipe.stats.as_dict(), rejects


@settings(max_examples=60, deadline=None)
@given(spec=kinds(dups=False, max_size=25), odd=st.lists(st.integers(0, 4), max_size=4))
def test_a_pass_is_the_same_with_and_without_the_shortcut(
    tmp_path_factory: Any, spec: list[tuple[str, int]], odd: list[int]
) -> None:
    lines = [json.dumps(r) for r in build(spec)]
    weird = ["", "  ", '{"email":"x@y.co","n":1e400}', "not json", '{"email":"a@b.co"}']
    for i, w in enumerate(odd):
        lines.insert(min(i * 3, len(lines)), weird[w])
    path = tmp_path_factory.mktemp("fast") / "in.jsonl"
    path.write_text("\r\n".join(lines) + "\n")
    rejects = path.parent / "rejects.jsonl"
    assert _pass(path, True, on_invalid="skip", rejects_path=str(rejects)) == _pass(
        path, False, on_invalid="skip", rejects_path=str(rejects)
    )


def test_fail_mode_names_the_same_record(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"email":"a@b.co"}\n{"email":"a@b.co","lifetime_value":"x"}\n')
    errors = []
    for fast in (True, False):
        with pytest.raises(InvalidRecordError) as info:
            _pass(path, fast)
        errors.append((info.value.position, str(info.value)))
    assert errors[0] == errors[1]
    assert errors[0][0] == 1


def test_payload_is_the_line_itself_and_too_big_lines_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    big = json.dumps({"email": "b@c.co", "first_name": "x" * 600})
    path.write_bytes(b'{"email": "a@b.co",  "tags": ["t"]}\r\n' + big.encode() + b"\n")
    pipe = RecordPipeline("subscribers", source=str(path), on_invalid="skip", max_batch_bytes=300)
    (chunk,) = list(pipe.chunks())
    assert chunk.payloads == [b'{"email": "a@b.co",  "tags": ["t"]}']
    assert pipe.stats.rejected_by_rule == {"max_bytes": 1}


def test_a_line_in_an_alternative_form_is_normalised_not_forwarded(tmp_path: Path) -> None:
    """One tag as a string is not forwarded as it is: the ordinary path sends a list."""
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"email": "a@b.co", "tags": "t", "lifetime_value": 5.0}\n')
    (chunk,) = list(RecordPipeline("subscribers", source=str(path)).chunks())
    assert chunk.payloads == [b'{"email":"a@b.co","tags":["t"],"lifetime_value":5}']
