"""Changed mode in the record pipeline: the raw-line shortcut for JSON lines and the verdict
for everything else, against a real ``ChangeTracker`` over a real (local) sync state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_drip.records import InvalidRecordError, RecordPipeline
from airflow_provider_drip.state import PayloadDigester, SyncStateStore, key_spec_for
from airflow_provider_drip.sync.changes import ChangeTracker


def subs(n: int) -> list[dict[str, Any]]:
    return [{"email": f"u{i:03d}@example.com", "first_name": "Ann"} for i in range(n)]


def line(record: dict[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":")).encode()


class CountingTracker(ChangeTracker):
    """A real tracker that also counts which of its two questions were asked."""

    def __init__(self, state_path: Path, *, send_all: bool = False) -> None:
        state = SyncStateStore.open(state_path, "1", "subscribers", "t")
        super().__init__(state, PayloadDigester(key_spec_for("subscribers")), send_all=send_all)
        self.asked = {"known": 0, "verdict": 0}
        known, verdict = self.known, self.verdict

        def counted_known(payload: bytes) -> bool:
            self.asked["known"] += 1
            return known(payload)

        def counted_verdict(payload: bytes) -> Any:
            self.asked["verdict"] += 1
            return verdict(payload)

        self.known, self.verdict = counted_known, counted_verdict


def accept_all(tracker: ChangeTracker, pipeline: RecordPipeline) -> None:
    for chunk in pipeline.chunks():
        tracker.accepted(chunk)
    tracker.commit()


def first_run(tmp_path: Path, records: list[dict[str, Any]]) -> Path:
    """``people.jsonl`` of ``records``, all of them accepted by Drip into ``tmp_path/state``."""
    source = tmp_path / "people.jsonl"
    source.write_bytes(b"".join(line(r) + b"\n" for r in records))
    tracker = CountingTracker(tmp_path / "state")
    accept_all(tracker, RecordPipeline("subscribers", source=str(source), change_filter=tracker))
    return source


def test_unchanged_json_lines_are_known_by_their_bytes_before_any_check(tmp_path: Path) -> None:
    records = subs(10)
    source = first_run(tmp_path, records)
    # The same lines, but one changed, one ending in a space and CRLF, and one new.
    lines = [line(r) + b"\n" for r in records]
    lines[3] = line({**records[3], "first_name": "Anne"}) + b"\n"
    lines[4] = line(records[4]) + b" \r\n"
    lines.append(line({"email": "new@example.com"}) + b"\n")
    source.write_bytes(b"".join(lines))
    second = CountingTracker(tmp_path / "state")
    pipeline = RecordPipeline("subscribers", source=str(source), change_filter=second, batch_size=1)
    chunks = list(pipeline.chunks())
    assert [(c.start, c.end) for c in chunks] == [(3, 10), (10, 11)]  # ranges tile the input
    assert [json.loads(c.payloads[0]).get("first_name") for c in chunks] == ["Anne", None]
    assert pipeline.stats.records_unchanged == 9 and pipeline.stats.records_read == 11
    assert second.asked == {"known": 11, "verdict": 2}  # only the misses were checked


def test_a_known_line_is_not_validated_again(tmp_path: Path) -> None:
    """Drip accepted these bytes once; a stricter check now would only reject what it has."""
    source = first_run(tmp_path, [{"email": "a@example.com"}])
    again = CountingTracker(tmp_path / "state")
    pipeline = RecordPipeline("subscribers", source=str(source), change_filter=again)
    pipeline._accept_line = lambda raw: False  # as if the line check now refused the line
    assert list(pipeline.chunks()) == [] and pipeline.stats.records_unchanged == 1


def test_fail_mode_names_the_first_bad_line_after_known_ones(tmp_path: Path) -> None:
    records = subs(5)
    source = first_run(tmp_path, records)
    source.write_bytes(
        b"".join(line(r) + b"\n" for r in records[:3]) + b'{"email":"nope"}\n' + line(records[3])
    )
    again = CountingTracker(tmp_path / "state")
    with pytest.raises(InvalidRecordError) as err:
        RecordPipeline("subscribers", source=str(source), change_filter=again).check()
    assert err.value.position == 3 and "line 4" in str(err.value)


def test_a_full_refresh_sends_every_line(tmp_path: Path) -> None:
    source = first_run(tmp_path, subs(4))
    refresh = CountingTracker(tmp_path / "state", send_all=True)
    pipeline = RecordPipeline("subscribers", source=str(source), change_filter=refresh)
    assert sum(len(c) for c in pipeline.chunks()) == 4
    assert pipeline.stats.records_unchanged == 0


def test_records_that_are_reshaped_take_the_verdict_path(tmp_path: Path) -> None:
    """With a field_map the line's bytes are not its payload: no raw-line shortcut."""
    source = tmp_path / "people.jsonl"
    source.write_bytes(b"".join(line({"mail": r["email"]}) + b"\n" for r in subs(3)))
    tracker = CountingTracker(tmp_path / "state")
    mapped = {"field_map": {"mail": "email"}}
    accept_all(
        tracker,
        RecordPipeline("subscribers", source=str(source), change_filter=tracker, **mapped),
    )
    again = CountingTracker(tmp_path / "state")
    pipeline = RecordPipeline("subscribers", source=str(source), change_filter=again, **mapped)
    assert list(pipeline.chunks()) == [] and pipeline.stats.records_unchanged == 3
    assert again.asked == {"known": 0, "verdict": 3}  # the reader never asked about raw lines
