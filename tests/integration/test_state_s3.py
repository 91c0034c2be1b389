"""The sync state and cursor on an S3-compatible server (moto, server mode, on 127.0.0.1).

How ``ObjectStoragePath`` finds S3 credentials: ``ObjectStoragePath("s3://...", conn_id=X)``
asks ``airflow.sdk.io.attach("s3", X)`` for a filesystem, which comes from the filesystems
registered by providers. Only the Amazon provider registers ``s3`` (its ``get_fs`` reads the
``aws`` connection, ``endpoint_url`` included, from ``AIRFLOW_CONN_X``). This project does not
depend on it, so the test attaches an ``s3fs.S3FileSystem`` pointing at moto under the
connection id itself: the same ``attach`` a user without the Amazon provider can call once in
their DAG file. Everything below then goes through ``ObjectStoragePath`` exactly as in a task.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Iterator

import pytest

pytest.importorskip("s3fs", reason="s3fs is a test dependency of the S3 state tests")
moto_server = pytest.importorskip("moto.server", reason="moto[server] is a test dependency")

from airflow.sdk import ObjectStoragePath  # noqa: E402
from airflow.sdk.io import attach  # noqa: E402

from airflow_provider_drip.state import (  # noqa: E402
    ObjectStorageCheckpoint,
    SyncStateConflictError,
    SyncStateCorruptError,
    SyncStateStore,
    store,
)
from airflow_provider_drip.state.__main__ import main  # noqa: E402

pytestmark = pytest.mark.integration

CONN_ID = "drip_state_s3"
BUCKET = "drip-state"
ACCT, RES, KEY = "1234567", "subscribers", "nightly.sync"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def s3fs_attached(s3_endpoint):
    import boto3
    import s3fs

    creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", **creds).create_bucket(
        Bucket=BUCKET
    )
    fs = s3fs.S3FileSystem(
        key="testing",
        secret="testing",
        endpoint_url=s3_endpoint,
        client_kwargs={"region_name": "us-east-1"},
    )
    attach("s3", conn_id=CONN_ID, fs=fs)
    return fs


@pytest.fixture
def base(s3fs_attached) -> ObjectStoragePath:
    """A fresh prefix per test, as a user would pass ``state_path``."""
    return ObjectStoragePath(f"s3://{BUCKET}/states-{uuid.uuid4().hex[:8]}", conn_id=CONN_ID)


def _open(base, **kw):
    return SyncStateStore.open(base, ACCT, RES, KEY, **kw)


def test_commit_and_reload_through_object_storage_path(base, s3fs_attached):
    state = _open(base)
    pairs = [(i * 0x9E3779B97F4A7C15 % (1 << 64), i) for i in range(10_000)]
    state.mark_accepted(pairs)
    assert state.commit() == 1
    key = f"{BUCKET}/{base.key}/{ACCT}/{RES}/{KEY}.state"
    assert s3fs_attached.exists(key)
    assert str(state.path).startswith("s3://")

    reloaded = _open(base)
    assert (reloaded.generation, reloaded.count) == (1, 10_000)
    assert all(reloaded.classify(k, c) == "unchanged" for k, c in pairs[:1000])
    assert reloaded.classify(pairs[0][0], 999_999) == "changed"
    info = SyncStateStore.info(base, ACCT, RES, KEY)
    assert info.size_bytes == s3fs_attached.info(key)["size"]
    assert info.bytes_per_key is not None and info.bytes_per_key <= 24


def test_second_writer_gets_a_conflict(base):
    first, second = _open(base), _open(base)
    first.mark_accepted([(1, 1)])
    first.commit()
    second.mark_accepted([(2, 2)])
    with pytest.raises(SyncStateConflictError) as err:
        second.commit()
    assert err.value.path.startswith("s3://") and KEY in err.value.path
    assert _open(base).classify(1, 1) == "unchanged"
    assert _open(base).classify(2, 2) == "new"


def _interleave(monkeypatch, other_commit):
    """Run ``other_commit`` right after this committer compared generations, before it writes:
    the window a check-then-write store cannot close."""
    real = store._current
    calls = {"n": 0}

    def current_then_race(path):
        result = real(path)
        calls["n"] += 1
        if calls["n"] == 1:
            other_commit()
        return result

    monkeypatch.setattr(store, "_current", current_then_race)
    return calls


def test_conditional_put_closes_the_check_then_write_window(base, monkeypatch):
    seed = _open(base)
    seed.mark_accepted([(1, 1)])
    seed.commit()
    mine, theirs = _open(base), _open(base)
    theirs.mark_accepted([(2, 2)])
    mine.mark_accepted([(3, 3)])
    _interleave(monkeypatch, theirs.commit)
    with pytest.raises(SyncStateConflictError, match="changed while this run committed"):
        mine.commit()
    monkeypatch.undo()
    stored = _open(base)
    assert stored.generation == 2
    assert stored.classify(2, 2) == "unchanged"  # their update was not lost
    assert stored.classify(3, 3) == "new"


def test_first_state_created_twice_at_once_is_a_conflict(base, monkeypatch):
    mine, theirs = _open(base), _open(base)
    theirs.mark_accepted([(2, 2)])
    mine.mark_accepted([(3, 3)])
    _interleave(monkeypatch, theirs.commit)
    with pytest.raises(SyncStateConflictError):
        mine.commit()
    monkeypatch.undo()
    assert _open(base).classify(2, 2) == "unchanged"


def test_torn_object_is_never_read_as_a_state(base, s3fs_attached):
    state = _open(base)
    state.mark_accepted([(i, i) for i in range(1, 1001)])
    state.commit()
    key = f"{BUCKET}/{base.key}/{ACCT}/{RES}/{KEY}.state"
    whole = s3fs_attached.cat_file(key)
    s3fs_attached.pipe_file(key, whole[: len(whole) // 2])  # what a non-atomic writer could leave
    with pytest.raises(SyncStateCorruptError, match="full_refresh"):
        _open(base)
    rebuilt = _open(base, full_refresh=True)
    rebuilt.mark_accepted([(7, 7)])
    rebuilt.commit()
    assert _open(base).count == 1


def test_full_refresh_and_reset(base):
    state = _open(base)
    state.mark_accepted([(1, 1), (2, 2)])
    state.commit()
    refresh = _open(base, full_refresh=True)
    assert refresh.classify(1, 1) == "new"
    refresh.mark_accepted([(2, 3)])
    assert refresh.commit() == 2
    after = _open(base)
    assert after.count == 1 and after.classify(2, 3) == "unchanged"
    assert SyncStateStore.reset(base, ACCT, RES, KEY) is True
    assert _open(base).count == 0


def test_cursor_checkpoint_on_s3(base, s3fs_attached):
    cp = ObjectStorageCheckpoint(base, ACCT, RES, KEY)
    assert cp.load() is None
    cp.save({"fingerprint": "f", "position": 2000})
    cp.save_part("request_ids/0", ["r1", "r2"])
    again = ObjectStorageCheckpoint(base, ACCT, RES, KEY)
    assert again.load() == {"fingerprint": "f", "position": 2000}
    assert again.load_part("request_ids/0") == ["r1", "r2"]
    assert s3fs_attached.exists(f"{BUCKET}/{base.key}/{ACCT}/{RES}/{KEY}.cursor/cursor.json")
    again.clear_part("request_ids/0")
    assert again.load_part("request_ids/0") is None
    assert again.clear_all() == 1
    assert again.load() is None


def test_cli_show_and_reset_on_s3(base, capsys):
    state = _open(base)
    state.mark_accepted([(i, i) for i in range(1, 501)])
    state.commit()
    uri = f"s3://{BUCKET}/{base.key}"
    args = ["--account", ACCT, "--resource", RES, "--state-key", KEY, "--conn-id", CONN_ID]
    assert main(["show", uri, *args]) == 0
    out = capsys.readouterr().out
    assert "keys: 500" in out and "generation: 1" in out
    assert main(["reset", uri, *args, "--yes"]) == 0
    assert not SyncStateStore.info(base, ACCT, RES, KEY).exists


def test_no_temporary_objects_are_left(base, s3fs_attached):
    state = _open(base)
    for i in range(3):
        state.mark_accepted([(i + 1, i)])
        state.commit()
    listing = s3fs_attached.find(f"{BUCKET}/{base.key}")
    assert [os.path.basename(p) for p in listing] == [f"{KEY}.state"]


def test_without_conditional_puts_the_read_back_catches_a_racing_overwrite(
    base, s3fs_attached, monkeypatch
):
    """A store that ignores If-Match (some S3-compatibles): a writer that passed its check at
    the same moment overwrites this commit; reading our writer id back reveals it."""
    from array import array

    from airflow_provider_drip.state import storage
    from airflow_provider_drip.state.digest import DIGEST_VERSION
    from airflow_provider_drip.state.file_format import StateHeader, encode_parts

    monkeypatch.setattr(storage, "supports_conditional_put", lambda path: False)
    seed = _open(base)
    seed.mark_accepted([(1, 1)])
    seed.commit()
    mine = _open(base)
    mine.mark_accepted([(3, 3)])
    racer = StateHeader(ACCT, RES, KEY, 2, 0, 0.0, b"r" * 16, DIGEST_VERSION)
    racer_bytes = b"".join(bytes(p) for p in encode_parts(racer, array("Q", [2]), array("Q", [2])))
    real_write = storage.write_atomic

    def write_then_overwritten(path, parts, **kw):
        real_write(path, parts, **kw)
        s3fs_attached.pipe_file(f"{path.bucket}/{path.key}", racer_bytes)

    monkeypatch.setattr(storage, "write_atomic", write_then_overwritten)
    with pytest.raises(SyncStateConflictError, match="replaced it right after"):
        mine.commit()
