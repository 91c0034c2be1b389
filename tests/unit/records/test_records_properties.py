"""Property tests: chunking never loses, duplicates or reorders records; resume equals the tail."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_drip.records import RecordPipeline
from tests.unit.records.generated import PREFIX, SUFFIX, build, drop
from tests.unit.records.generated import kinds as generated_kinds

kinds = generated_kinds(dups=False, max_size=60)


@settings(max_examples=150, deadline=None)
@given(spec=kinds, batch_size=st.integers(1, 7), cap_extra=st.integers(60, 400))
def test_chunking_keeps_every_valid_record_once_in_order(
    spec: list[tuple[str, int]], batch_size: int, cap_extra: int
) -> None:
    rows = build(spec)
    cap = len(PREFIX) + len(SUFFIX) + cap_extra
    p = RecordPipeline(
        "subscribers",
        records=rows,
        on_invalid="skip",
        batch_size=batch_size,
        max_batch_bytes=cap,
        transform=drop,
    )
    chunks = list(p.chunks())
    stats = p.stats.as_dict()
    assert list(p.chunks(background=True)) == chunks  # handing over the GIL changes nothing
    assert p.stats.as_dict() == stats
    got = [r["i"] for c in chunks for r in c.records()]
    expected = [
        i
        for i, (kind, pad) in enumerate(spec)
        if kind == "ok"
        and len(f'{{"email":"u{i}@x.co","first_name":"{"x" * pad}","i":{i}}}') <= cap_extra
    ]
    assert got == expected
    for c in chunks:
        assert 1 <= len(c) <= batch_size
        assert len(c.body("subscribers")) <= cap
        assert next(r["i"] for r in c.records()) == c.start
        assert c.start < c.end
    # Ranges tile the input from the first sent record to the end.
    for a, b in itertools.pairwise(chunks):
        assert a.end == b.start
    if chunks:
        assert chunks[-1].end == len(rows)
    # Resuming at any boundary yields exactly the rest of the run.
    for k, c in enumerate(chunks):
        assert list(p.chunks(start=c.end)) == chunks[k + 1 :]
    # Resuming anywhere never sends a position below the cursor, and nothing after it is lost.
    for start in range(0, len(rows) + 1, 5):
        tail = [r["i"] for c in p.chunks(start) for r in c.records()]
        assert tail == [i for i in expected if i >= start]


@settings(max_examples=80, deadline=None)
@given(keys=st.lists(st.integers(0, 8), max_size=40), batch_size=st.integers(1, 5))
def test_dedupe_sends_each_key_once_at_its_last_position(keys: list[int], batch_size: int) -> None:
    rows = [{"email": f"k{k}@x.co", "i": i} for i, k in enumerate(keys)]
    p = RecordPipeline("subscribers", records=rows, dedupe=True, batch_size=batch_size)
    got = [r["i"] for c in p.chunks() for r in c.records()]
    last = {k: i for i, k in enumerate(keys)}
    assert got == sorted(last.values())
    chunks = list(p.chunks())
    for k, c in enumerate(chunks):
        assert list(p.chunks(start=c.end)) == chunks[k + 1 :]
