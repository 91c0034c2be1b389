"""check() spools its chunks; the next chunks() replays them: same chunks and stats, no re-read."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_drip.records import InvalidRecordError, RecordPipeline
from tests.unit.records.generated import PREFIX, SUFFIX, build, drop
from tests.unit.records.generated import kinds as generated_kinds

kinds = generated_kinds(dups=True, max_size=50)


def run(p: RecordPipeline, start: int) -> list[tuple[Any, ...]]:
    """Each chunk with the stats as they stood when it was handed out, then the final stats."""
    out: list[tuple[Any, ...]] = []
    for c in p.chunks(start):
        out.append((c.start, c.end, list(c.payloads), p.stats.as_dict()))
    out.append(("final", p.stats.as_dict()))
    return out


@settings(max_examples=120, deadline=None)
@given(
    spec=kinds,
    batch_size=st.integers(1, 6),
    cap_extra=st.integers(60, 300),
    dedupe=st.booleans(),
    start=st.integers(0, 55),
)
def test_replay_equals_a_normal_pass(
    spec: list[tuple[str, int]], batch_size: int, cap_extra: int, dedupe: bool, start: int
) -> None:
    def make() -> RecordPipeline:
        return RecordPipeline(
            "subscribers",
            records=build(spec),
            on_invalid="skip",
            batch_size=batch_size,
            max_batch_bytes=len(PREFIX) + len(SUFFIX) + cap_extra,
            transform=drop,
            dedupe=dedupe,
        )

    reference = make()
    boundaries = [c.start for c in reference.chunks()] + [c.end for c in reference.chunks()]
    for s in [0, start, *boundaries]:  # any start: one inside a chunk falls back to a real pass
        p = make()
        p.check()
        assert p._spool is not None
        got = run(p, s)
        assert p._spool is None and p._replaying is None  # freed when the replay finished
        assert got == run(reference, s)


def test_fail_mode_replay_does_not_read_the_source_again(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text("".join(json.dumps({"email": f"u{i}@x.co"}) + "\n" for i in range(25)))
    normal = RecordPipeline("subscribers", source=str(path), batch_size=10)
    expected = run(normal, 0)
    p = RecordPipeline("subscribers", source=str(path), batch_size=10)
    assert p.check().to_send == 25
    path.unlink()  # a normal pass would now fail
    assert run(p, 0) == expected
    with pytest.raises(FileNotFoundError):  # the spool served one pass only
        list(p.chunks())


def test_spool_opt_out_and_setting_changes_read_the_source_again(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text("".join(json.dumps({"email": f"u{i}@x.co"}) + "\n" for i in range(25)))
    p = RecordPipeline("subscribers", source=str(path), batch_size=10)
    p.check(spool=False)
    assert p._spool is None
    p.check()
    p.batch_size = 7  # changes the chunks: the spool must not be used
    assert [len(c) for c in p.chunks()] == [7, 7, 7, 4]


def test_a_failed_check_leaves_no_spool() -> None:
    rows = [{"email": "a@b.co"}, {"email": "nope"}, {"email": "c@d.co"}]
    p = RecordPipeline("subscribers", records=rows)
    with pytest.raises(InvalidRecordError):
        p.check()
    assert p._spool is None
    with pytest.raises(InvalidRecordError, match="position 1"):
        list(p.chunks())


def test_skip_mode_replay_keeps_the_rejects_file(tmp_path: Path) -> None:
    rows = [{"email": "a@b.co"}, {"email": "nope"}, {"email": "c@d.co"}]
    rejects = tmp_path / "rejects.jsonl"
    p = RecordPipeline("subscribers", records=rows, on_invalid="skip", rejects_path=rejects)
    p.check()
    written = rejects.read_text()
    assert json.loads(written)["position"] == 1
    rejects.write_text("marker\n")  # a rewrite by the replay would replace this
    assert [c.records() for c in p.chunks()] == [[{"email": "a@b.co"}, {"email": "c@d.co"}]]
    assert p.stats.records_rejected == 1 and p.stats.rejected_by_rule == {"email_format": 1}
    assert rejects.read_text() == "marker\n"
    list(p.chunks())  # a normal pass rewrites it in full
    assert rejects.read_text() == written


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_spool_file_is_freed_on_close_and_after_replay() -> None:
    rows = [{"email": f"u{i}@x.co"} for i in range(30)]
    before = _open_fds()
    with RecordPipeline("subscribers", records=rows, batch_size=10) as p:
        p.check()
        spool = p._spool
        assert spool is not None and not spool.closed
        assert _open_fds() == before + 1
    assert spool.closed and p._spool is None
    assert _open_fds() == before

    p = RecordPipeline("subscribers", records=rows, batch_size=10)
    p.check()
    chunks = p.chunks()
    next(chunks)  # replay in progress
    p.close()
    assert _open_fds() == before
    chunks.close()

    p.check()
    assert sum(len(c) for c in p.chunks()) == 30
    assert _open_fds() == before


def test_a_new_check_does_not_break_a_replay_in_progress() -> None:
    rows = [{"email": f"u{i}@x.co"} for i in range(30)]
    p = RecordPipeline("subscribers", records=rows, batch_size=10)
    p.check()
    replay = p.chunks()
    first = next(replay)
    assert p.check().to_send == 30  # spools afresh; the running replay keeps its own file
    assert [first.start, *(c.start for c in replay)] == [0, 10, 20]
    assert [c.start for c in p.chunks()] == [0, 10, 20]  # served by the new spool
    p.close()
