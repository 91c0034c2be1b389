"""ObjectStorageCheckpoint: the sync cursor as JSON objects beside the state."""

from __future__ import annotations

import pytest

from airflow_provider_drip.state import ObjectStorageCheckpoint, SyncStateCorruptError
from airflow_provider_drip.sync.checkpoint import CheckpointStore, SyncCursor


def _store(base) -> CheckpointStore:
    # annotated as the Protocol: a signature mismatch fails type checking at this seam
    return ObjectStorageCheckpoint(base, "1234567", "subscribers", "dag.task")


def test_cursor_round_trip_across_instances(tmp_path):
    cursor = SyncCursor(fingerprint="abc", position=3000, records_sent=3000, batches_sent=3)
    _store(tmp_path).save(cursor.to_json())
    loaded = _store(tmp_path).load()
    assert SyncCursor.from_json(loaded) == cursor
    assert (tmp_path / "1234567/subscribers/dag.task.cursor/cursor.json").is_file()


def test_missing_values_load_as_none(tmp_path):
    store = _store(tmp_path)
    assert store.load() is None
    assert store.load_part("request_ids/0") is None
    store.clear()  # clearing nothing is fine
    store.clear_part("request_ids/0")


def test_parts_with_slashes_stay_inside_the_folder(tmp_path):
    store = _store(tmp_path)
    store.save_part("request_ids/0", ["a", "b"])
    store.save_part("request_ids/1", ["c"])
    store.save_part("../escape", {"x": 1})
    assert store.load_part("request_ids/0") == ["a", "b"]
    assert store.load_part("request_ids/1") == ["c"]
    assert store.load_part("../escape") == {"x": 1}
    folder = tmp_path / "1234567/subscribers/dag.task.cursor/parts"
    assert len(list(folder.iterdir())) == 3
    store.clear_part("request_ids/0")
    assert store.load_part("request_ids/0") is None
    assert store.load_part("request_ids/1") == ["c"]


def test_clear_keeps_parts_and_clear_all_removes_everything(tmp_path):
    store = ObjectStorageCheckpoint(tmp_path, "1234567", "subscribers", "dag.task")
    store.save({"fingerprint": "f"})
    store.save_part("request_ids/0", [1])
    store.clear()
    assert store.load() is None and store.load_part("request_ids/0") == [1]
    store.save({"fingerprint": "f"})
    assert store.clear_all() == 2
    assert store.load() is None and store.load_part("request_ids/0") is None


def test_writes_are_atomic_and_leave_no_temp_files(tmp_path):
    store = _store(tmp_path)
    for i in range(5):
        store.save({"fingerprint": "f", "position": i})
    folder = tmp_path / "1234567/subscribers/dag.task.cursor"
    assert sorted(p.name for p in folder.iterdir()) == ["cursor.json"]
    assert store.load() == {"fingerprint": "f", "position": 4}


def test_corrupt_cursor_is_an_error_naming_the_path(tmp_path):
    store = _store(tmp_path)
    store.save({"fingerprint": "f"})
    target = tmp_path / "1234567/subscribers/dag.task.cursor/cursor.json"
    target.write_text('{"fingerprint": ')
    with pytest.raises(SyncStateCorruptError, match=r"cursor\.json"):
        store.load()


def test_non_json_values_are_refused_before_writing(tmp_path):
    store = _store(tmp_path)
    store.save({"fingerprint": "f"})
    with pytest.raises(ValueError):
        store.save({"fingerprint": float("nan")})
    assert store.load() == {"fingerprint": "f"}


def test_keys_are_namespaced(tmp_path):
    a = ObjectStorageCheckpoint(tmp_path, "1", "subscribers", "k")
    b = ObjectStorageCheckpoint(tmp_path, "1", "events", "k")
    c = ObjectStorageCheckpoint(tmp_path, "2", "subscribers", "k")
    a.save({"fingerprint": "a"})
    assert b.load() is None and c.load() is None
