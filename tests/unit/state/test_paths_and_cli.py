"""State paths (sanitised, namespaced, default from config) and the show/reset CLI."""

from __future__ import annotations

import json

import pytest

from airflow_provider_drip.state import ObjectStorageCheckpoint, SyncStateStore, default_state_path
from airflow_provider_drip.state.__main__ import main
from airflow_provider_drip.state.paths import safe_segment


@pytest.mark.parametrize("name", ["..", ".", "a/b", "a\\b", "dag id", "ünï", "x" * 300, "a:b"])
def test_safe_segment_never_escapes(name):
    seg = safe_segment(name)
    assert "/" not in seg and "\\" not in seg and seg not in (".", "..") and len(seg) < 100


def test_safe_segment_keeps_plain_names_and_separates_lookalikes():
    assert safe_segment("dag_1.task-2") == "dag_1.task-2"
    assert safe_segment("a/b") != safe_segment("a_b") != safe_segment("a b")
    with pytest.raises(ValueError):
        safe_segment("")


def test_default_state_path_from_config(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW__DRIP__STATE_PATH", "s3://bucket/drip-state")
    assert default_state_path() == "s3://bucket/drip-state"


def test_default_state_path_under_airflow_home(monkeypatch, tmp_path):
    monkeypatch.delenv("AIRFLOW__DRIP__STATE_PATH", raising=False)
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    assert default_state_path() == str(tmp_path / "drip_state")


ARGS = ["--account", "1234567", "--resource", "subscribers", "--state-key", "dag.task"]


def _seed(base, n: int = 1000) -> None:
    state = SyncStateStore.open(base, "1234567", "subscribers", "dag.task")
    state.mark_accepted((i * 7919 + 1, i) for i in range(n))
    state.commit()
    ObjectStorageCheckpoint(base, "1234567", "subscribers", "dag.task").save({"fingerprint": "f"})


def test_show(tmp_path, capsys):
    _seed(tmp_path)
    assert main(["show", str(tmp_path), *ARGS, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["exists"] and out["keys"] == 1000 and out["generation"] == 1
    assert out["cursor_saved"] is True
    assert 16 <= out["bytes_per_key"] <= 24
    assert out["last_commit"].endswith("+00:00")
    assert out["key_fields"] == '[["email"],["id"]]'
    assert main(["show", str(tmp_path), *ARGS]) == 0
    assert "keys: 1000" in capsys.readouterr().out


def test_show_missing_state(tmp_path, capsys):
    assert main(["show", str(tmp_path), *ARGS]) == 0
    assert "no sync state" in capsys.readouterr().out


def test_show_uses_the_default_state_path(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AIRFLOW__DRIP__STATE_PATH", str(tmp_path))
    _seed(tmp_path, 3)
    assert main(["show", *ARGS, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["keys"] == 3


def test_reset_needs_yes(tmp_path, capsys):
    _seed(tmp_path)
    assert main(["reset", str(tmp_path), *ARGS]) == 2
    assert "--yes" in capsys.readouterr().err
    assert SyncStateStore.info(tmp_path, "1234567", "subscribers", "dag.task").exists
    assert main(["reset", str(tmp_path), *ARGS, "--yes"]) == 0
    assert "removed" in capsys.readouterr().out
    assert not SyncStateStore.info(tmp_path, "1234567", "subscribers", "dag.task").exists
    assert ObjectStorageCheckpoint(tmp_path, "1234567", "subscribers", "dag.task").load() is None


def test_show_corrupt_state_exits_1(tmp_path, capsys):
    _seed(tmp_path)
    path = SyncStateStore.path_for(tmp_path, "1234567", "subscribers", "dag.task")
    with open(path.path, "r+b") as f:
        f.write(b"JUNK")
    assert main(["show", str(tmp_path), *ARGS]) == 1
    assert "cannot be read" in capsys.readouterr().err
