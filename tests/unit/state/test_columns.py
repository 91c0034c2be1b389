"""Sorted columns: sort/dedupe and merge agree with a dict model, across chunk boundaries."""

from __future__ import annotations

import random
from array import array

import pytest

from airflow_provider_drip.state import columns


def _model_merge(base: dict[int, int], updates: list[tuple[int, int]]) -> dict[int, int]:
    out = dict(base)
    for k, c in updates:
        out[k] = c
    return out


@pytest.mark.parametrize("chunk", [3, 64, 1 << 16])
@pytest.mark.parametrize("seed", range(5))
def test_sort_unique_last_update_wins(monkeypatch, chunk, seed):
    monkeypatch.setattr(columns, "SORT_CHUNK", chunk)
    rnd = random.Random(seed)
    updates = [(rnd.randrange(200), rnd.getrandbits(64)) for _ in range(500)]
    keys, contents = columns.sort_unique(
        array("Q", (k for k, _ in updates)), array("Q", (c for _, c in updates))
    )
    model = _model_merge({}, updates)
    assert list(keys) == sorted(model)
    assert list(contents) == [model[k] for k in keys]


@pytest.mark.parametrize("seed", range(10))
def test_merge_matches_dict_model(seed):
    rnd = random.Random(seed)
    space = rnd.choice([50, 1000, 1 << 64])
    base = {rnd.randrange(space): rnd.getrandbits(64) for _ in range(rnd.randrange(0, 300))}
    updates = [(rnd.randrange(space), rnd.getrandbits(64)) for _ in range(rnd.randrange(0, 300))]
    uk, uc = columns.sort_unique(
        array("Q", (k for k, _ in updates)), array("Q", (c for _, c in updates))
    )
    bk = array("Q", sorted(base))
    bc = array("Q", (base[k] for k in bk))
    mk, mc = columns.merge(bk, bc, uk, uc)
    model = _model_merge(base, updates)
    assert list(mk) == sorted(model)
    assert list(mc) == [model[k] for k in mk]
    assert list(bk) == sorted(base)  # the base columns are not modified


def test_find():
    keys = array("Q", [2, 5, 9, (1 << 64) - 1])
    assert [columns.find(keys, k) for k in (0, 2, 5, 6, 9, (1 << 64) - 1)] == [-1, 0, 1, -1, 2, 3]
    assert columns.find(array("Q"), 1) == -1
