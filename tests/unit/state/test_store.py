"""SyncState on a local folder: classify, commit/reload, atomicity under SIGKILL, conflicts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import tracemalloc
from pathlib import Path

import pytest

from airflow_provider_drip.state import (
    SyncStateConflictError,
    SyncStateCorruptError,
    SyncStateStore,
    record_digests,
)
from airflow_provider_drip.state.digest import DIGEST_VERSION

ACCT, RES, KEY = "1234567", "subscribers", "nightly.sync"


def digests(record: dict) -> tuple[int, int]:
    return record_digests(record, RES)


def _open(base, **kw):
    return SyncStateStore.open(base, ACCT, RES, KEY, **kw)


def _pairs(n: int, start: int = 0, version: int = 0) -> list[tuple[int, int]]:
    return [
        tuple(digests({"email": f"u{i}@example.com", "v": version}))
        for i in range(start, start + n)
    ]


def test_classify_new_changed_unchanged_and_reload(tmp_path):
    state = _open(tmp_path)
    assert state.generation == 0 and state.count == 0
    a, b = digests({"email": "a@x.com", "n": 1}), digests({"email": "b@x.com"})
    assert state.classify(*a) == "new"
    state.mark_accepted([a, b])
    assert state.classify(*a) == "new"  # queued, not committed: classification is unchanged
    assert state.commit() == 1
    assert state.classify(*a) == "unchanged"
    a2 = digests({"email": "a@x.com", "n": 2})
    assert state.classify(*a2) == "changed"

    again = _open(tmp_path)
    assert (again.generation, again.count) == (1, 2)
    assert [again.classify(*x) for x in (a, a2, b)] == ["unchanged", "changed", "unchanged"]
    assert again.classify(*digests({"email": "c@x.com"})) == "new"


def test_only_marked_records_enter_the_state(tmp_path):
    state = _open(tmp_path)
    accepted, rejected = _pairs(10), _pairs(5, start=10)
    state.mark_accepted(accepted)
    state.commit()
    reloaded = _open(tmp_path)
    assert all(reloaded.classify(*p) == "unchanged" for p in accepted)
    assert all(reloaded.classify(*p) == "new" for p in rejected)


def test_updates_merge_and_last_acceptance_wins(tmp_path):
    state = _open(tmp_path)
    state.mark_accepted(_pairs(100))
    state.commit()
    state.mark_accepted(_pairs(10, version=1))  # 10 changed
    state.mark_accepted(_pairs(10, start=100))  # 10 new
    state.mark_accepted(_pairs(1, version=2))  # the same key accepted twice: the later wins
    assert state.commit() == 2
    fresh = _open(tmp_path)
    assert fresh.count == 110
    assert fresh.classify(*_pairs(1, version=2)[0]) == "unchanged"
    assert [fresh.classify(*p) for p in _pairs(9, start=1, version=1)] == ["unchanged"] * 9
    assert fresh.classify(*_pairs(1, start=50)[0]) == "unchanged"


def test_commit_without_changes_writes_nothing(tmp_path):
    state = _open(tmp_path)
    assert state.commit() == 0
    assert not state.path.exists()
    state.mark_accepted(_pairs(3))
    state.commit()
    mtime = os.stat(state.path.path).st_mtime_ns
    assert state.commit() == 1
    assert os.stat(state.path.path).st_mtime_ns == mtime


def test_namespaced_and_sanitised_path(tmp_path):
    state = SyncStateStore.open(tmp_path, 42, "events", "my dag/../task")
    state.mark_accepted(_pairs(1))
    state.commit()
    files = [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.state")]
    assert len(files) == 1
    assert files[0].startswith("42/events/my_dag_.._task-") and ".." not in Path(files[0]).parts


def test_second_writer_gets_a_conflict_not_a_lost_update(tmp_path):
    first, second = _open(tmp_path), _open(tmp_path)
    first.mark_accepted(_pairs(5))
    first.commit()
    second.mark_accepted(_pairs(5, start=100))
    with pytest.raises(SyncStateConflictError) as err:
        second.commit()
    assert str(second.path) in str(err.value) and err.value.path == str(second.path)
    assert second.pending == 5  # nothing was dropped on our side either
    stored = _open(tmp_path)
    assert stored.count == 5 and stored.classify(*_pairs(1)[0]) == "unchanged"


def test_conflict_after_a_commit_by_the_same_object_is_still_detected(tmp_path):
    first = _open(tmp_path)
    first.mark_accepted(_pairs(1))
    first.commit()
    second = _open(tmp_path)
    second.mark_accepted(_pairs(1, start=1))
    second.commit()  # generation 2
    first.mark_accepted(_pairs(1, start=2))
    with pytest.raises(SyncStateConflictError, match="generation 2 is on storage"):
        first.commit()


def test_reset_during_a_run_is_a_conflict(tmp_path):
    state = _open(tmp_path)
    state.mark_accepted(_pairs(2))
    state.commit()
    assert SyncStateStore.reset(tmp_path, ACCT, RES, KEY) is True
    assert SyncStateStore.reset(tmp_path, ACCT, RES, KEY) is False
    state.mark_accepted(_pairs(1, start=5))
    with pytest.raises(SyncStateConflictError, match="removed"):
        state.commit()


def test_full_refresh_ignores_and_rebuilds(tmp_path):
    old = _open(tmp_path)
    old.mark_accepted(_pairs(50))
    old.commit()
    refresh = _open(tmp_path, full_refresh=True)
    assert refresh.count == 0
    assert refresh.classify(*_pairs(1)[0]) == "new"
    refresh.mark_accepted(_pairs(5, start=1000))
    assert refresh.commit() == 2
    rebuilt = _open(tmp_path)
    assert rebuilt.count == 5
    assert rebuilt.classify(*_pairs(1)[0]) == "new"


def test_full_refresh_that_sends_nothing_still_replaces_the_state(tmp_path):
    old = _open(tmp_path)
    old.mark_accepted(_pairs(5))
    old.commit()
    assert _open(tmp_path, full_refresh=True).commit() == 2
    assert _open(tmp_path).count == 0


def test_full_refresh_is_still_checked_for_conflicts(tmp_path):
    refresh = _open(tmp_path, full_refresh=True)
    other = _open(tmp_path)
    other.mark_accepted(_pairs(1))
    other.commit()
    with pytest.raises(SyncStateConflictError, match="created"):
        refresh.commit()


def test_corrupt_state_is_an_error_and_full_refresh_rebuilds_it(tmp_path):
    state = _open(tmp_path)
    state.mark_accepted(_pairs(10))
    state.commit()
    raw = bytearray(Path(state.path.path).read_bytes())
    raw[-3] ^= 0xFF
    Path(state.path.path).write_bytes(bytes(raw))
    with pytest.raises(SyncStateCorruptError, match="full_refresh=True"):
        _open(tmp_path)
    refresh = _open(tmp_path, full_refresh=True)
    refresh.mark_accepted(_pairs(2))
    refresh.commit()
    assert _open(tmp_path).count == 2


def test_state_of_another_digest_version_or_identity_is_refused(tmp_path, monkeypatch):
    from airflow_provider_drip.state import store

    state = _open(tmp_path)
    state.mark_accepted(_pairs(1))
    state.commit()
    monkeypatch.setattr(store, "DIGEST_VERSION", DIGEST_VERSION + 1)
    with pytest.raises(SyncStateCorruptError, match="digest version"):
        _open(tmp_path)
    monkeypatch.undo()
    # a state file copied under another key is not silently used
    other = SyncStateStore.path_for(tmp_path, ACCT, RES, "other.key")
    Path(other.path).write_bytes(Path(state.path.path).read_bytes())
    with pytest.raises(SyncStateCorruptError, match="belongs to"):
        SyncStateStore.open(tmp_path, ACCT, RES, "other.key")


def test_info_reports_size_and_generation(tmp_path):
    assert SyncStateStore.info(tmp_path, ACCT, RES, KEY).exists is False
    state = _open(tmp_path)
    state.mark_accepted(_pairs(1000))
    state.commit()
    info = SyncStateStore.info(tmp_path, ACCT, RES, KEY)
    assert (info.exists, info.count, info.generation) == (True, 1000, 1)
    assert info.size_bytes == os.path.getsize(state.path.path)
    assert info.bytes_per_key is not None and 16 <= info.bytes_per_key <= 24
    assert abs(info.committed_at - time.time()) < 60


_KILLED_WRITER = textwrap.dedent(
    """
    import os, sys, time
    from airflow_provider_drip.state import SyncStateStore
    base, marker = sys.argv[1], sys.argv[2]
    state = SyncStateStore.open(base, "1234567", "subscribers", "nightly.sync")
    state.mark_accepted([(i * 2654435761 % (1 << 64), i) for i in range(50_000)])
    def stall(fd):  # the temp file is fully written: stop here and wait to be killed
        open(marker, "w").close()
        time.sleep(600)
    os.fsync = stall
    state.commit()
    """
)


def test_sigkill_mid_commit_leaves_the_old_state_readable(tmp_path):
    state = _open(tmp_path)
    before = _pairs(1000)
    state.mark_accepted(before)
    state.commit()
    marker = tmp_path / "writing"
    child = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(tmp_path), str(marker)])
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert child.poll() is None, "writer exited before it was killed"
            assert time.monotonic() < deadline, "writer never reached the write"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    leftovers = [p.name for p in state.path.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers, "the kill should have hit mid-write, leaving the temp file"
    reopened = _open(tmp_path)
    assert (reopened.generation, reopened.count) == (1, 1000)
    assert all(reopened.classify(*p) == "unchanged" for p in before)
    # the dead writer's lock is gone with it: the next commit goes through
    reopened.mark_accepted(_pairs(1, start=5000))
    assert reopened.commit() == 2


_RACER = textwrap.dedent(
    """
    import os, sys, time
    from airflow_provider_drip.state import SyncStateStore, SyncStateConflictError
    base, go, me = sys.argv[1], sys.argv[2], int(sys.argv[3])
    while not os.path.exists(go):
        time.sleep(0.001)
    conflicts = 0
    for i in range(8):
        while True:
            state = SyncStateStore.open(base, "1234567", "subscribers", "nightly.sync")
            state.mark_accepted([(me * 1000 + i, me)])
            try:
                state.commit()
                break
            except SyncStateConflictError:
                conflicts += 1
    print(conflicts)
    """
)


def test_concurrent_committers_lose_no_update(tmp_path):
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, str(tmp_path), str(go), str(me)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for me in range(1, 3)
    ]
    time.sleep(0.5)
    go.touch()
    outs = [p.communicate(timeout=240)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    final = _open(tmp_path)
    assert final.count == 16 and final.generation == 16
    for me in range(1, 3):
        for i in range(8):
            assert final.classify(me * 1000 + i, me) == "unchanged"


def test_100k_keys_size_memory_and_lookup_speed(tmp_path):
    n = 100_000
    state = _open(tmp_path)
    state.mark_accepted((i * 0x9E3779B97F4A7C15 % (1 << 64), i) for i in range(n))
    state.commit()
    size = os.path.getsize(state.path.path)
    assert size / n <= 24

    tracemalloc.start()
    loaded = _open(tmp_path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < n * 16 * 1.5, f"loading {n} keys peaked at {peak} bytes"

    probes = [(i * 0x9E3779B97F4A7C15 % (1 << 64), i) for i in range(0, n, 2)]
    start = time.perf_counter()
    verdicts = [loaded.classify(k, c) for k, c in probes]
    elapsed = time.perf_counter() - start
    assert verdicts == ["unchanged"] * len(probes)
    assert loaded.classify(1, 1) == "new"
    assert elapsed < 2.0, f"{len(probes)} lookups took {elapsed:.2f}s"


def test_file_uri_and_object_storage_path_reach_the_same_state(tmp_path):
    from airflow.sdk import ObjectStoragePath

    by_uri = SyncStateStore.open(f"file://{tmp_path}", ACCT, RES, KEY)
    by_uri.mark_accepted(_pairs(3))
    by_uri.commit()
    by_path = SyncStateStore.open(ObjectStoragePath(str(tmp_path)), ACCT, RES, KEY)
    assert by_path.count == 3 and by_path.generation == 1
    assert _open(tmp_path).count == 3


def test_sync_state_satisfies_the_change_state_seam(tmp_path):
    from airflow_provider_drip.state import ChangeState

    state: ChangeState = _open(tmp_path)  # checked by type checkers; the calls below at runtime
    state.mark_accepted([(1, 2)])
    assert state.commit() == 1 and state.classify(1, 2) == "unchanged"


def test_holds_and_known_keys_follow_commits(tmp_path):
    state = _open(tmp_path)
    a, b = digests({"email": "a@x.com"}), digests({"email": "b@x.com"})
    assert not state.holds(a.content) and state.known_keys([a.key]) == set()
    state.mark_accepted([a])
    assert not state.holds(a.content)  # queued only
    state.commit()
    assert state.holds(a.content) and not state.holds(b.content)
    assert state.known_keys([a.key, b.key]) == {a.key}
    a2 = digests({"email": "a@x.com", "first_name": "A"})
    state.mark_accepted([a2])
    state.commit()
    assert state.holds(a2.content) and not state.holds(a.content)  # replaced, not added
    assert state.count == 1 and _open(tmp_path).holds(a2.content)


def test_a_content_shared_by_two_keys_is_unchanged_only_for_its_own_key(tmp_path):
    state = _open(tmp_path)
    state.mark_accepted([(1, 7), (2, 7), (3, 8)])
    state.commit()
    assert [state.classify(k, 7) for k in (1, 2, 3, 4)] == [
        "unchanged",
        "unchanged",
        "changed",
        "new",
    ]


def test_the_state_refuses_other_key_fields(tmp_path):
    from airflow_provider_drip.state import key_spec_for

    state = _open(tmp_path)
    state.mark_accepted(_pairs(3))
    state.commit()
    other = key_spec_for(RES, key_fields="user_id")
    with pytest.raises(SyncStateCorruptError, match=r"user_id.*full_refresh=True"):
        _open(tmp_path, key_spec=other)
    rebuilt = _open(tmp_path, key_spec=other, full_refresh=True)
    rebuilt.mark_accepted([(1, 1)])
    rebuilt.commit()
    assert _open(tmp_path, key_spec=other).count == 1
    info = SyncStateStore.info(tmp_path, ACCT, RES, KEY)
    assert info.key_spec == other.fingerprint == '[["user_id"]]'


def test_a_state_of_an_earlier_format_is_refused_then_rebuilt_by_a_full_refresh(tmp_path):
    state = _open(tmp_path)
    state.mark_accepted(_pairs(3))
    state.commit()
    data = bytearray(state.path.read_bytes())
    data[8:10] = (1).to_bytes(2, "little")  # format 1: the columns were ordered by key
    state.path.write_bytes(bytes(data))
    with pytest.raises(SyncStateCorruptError, match=r"format 1 .*full_refresh=True"):
        _open(tmp_path)
    rebuilt = _open(tmp_path, full_refresh=True)
    rebuilt.mark_accepted(_pairs(1))
    assert rebuilt.commit() == 1
    assert _open(tmp_path).count == 1
