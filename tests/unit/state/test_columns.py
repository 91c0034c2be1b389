"""Digest columns: sort/dedupe, content order and replace agree with a dict model, across chunk
boundaries; the index finds what is there and nothing else."""

from __future__ import annotations

import random
import tracemalloc
from array import array
from bisect import bisect_left

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
    in_k, in_c = array("Q", (k for k, _ in updates)), array("Q", (c for _, c in updates))
    keys, contents = columns.sort_unique(in_k, in_c)
    assert len(in_k) == len(in_c) == 0  # consumed
    model = _model_merge({}, updates)
    assert list(keys) == sorted(model)
    assert list(contents) == [model[k] for k in keys]


def _by_content(model: dict[int, int]) -> tuple[array, array]:
    pairs = sorted(model.items(), key=lambda kc: kc[1])
    return array("Q", (k for k, _ in pairs)), array("Q", (c for _, c in pairs))


@pytest.mark.parametrize("seed", range(10))
def test_replace_matches_dict_model(seed):
    rnd = random.Random(seed)
    space = rnd.choice([50, 1000, 1 << 64])
    base = {rnd.randrange(space): rnd.getrandbits(64) for _ in range(rnd.randrange(0, 300))}
    updates = [(rnd.randrange(space), rnd.getrandbits(64)) for _ in range(rnd.randrange(0, 300))]
    uk, uc = columns.sort_unique(
        array("Q", (k for k, _ in updates)), array("Q", (c for _, c in updates))
    )
    uk, uc = columns.sort_by_content(uk, uc)
    assert list(uc) == sorted(uc)
    bk, bc = _by_content(base)
    mk, mc = columns.replace(bk, bc, uk, uc)
    model = _model_merge(base, updates)
    assert list(mc) == sorted(mc)  # still ordered by content
    assert dict(zip(mk, mc, strict=True)) == model and len(mk) == len(model)
    assert [list(bk), list(bc)] == [list(c) for c in _by_content(base)]  # base not modified


@pytest.mark.parametrize("chunk", [3, 1 << 16])
def test_sort_by_content_keeps_pairs_together(monkeypatch, chunk):
    monkeypatch.setattr(columns, "SORT_CHUNK", chunk)
    rnd = random.Random(chunk)
    pairs = {rnd.getrandbits(64): rnd.getrandbits(64) for _ in range(200)}
    keys, contents = columns.sort_by_content(array("Q", pairs), array("Q", pairs.values()))
    assert list(contents) == sorted(pairs.values())
    assert all(pairs[k] == c for k, c in zip(keys, contents, strict=True))


def find(column: array, digest: int) -> int:
    """The oracle: a plain binary search of the whole column."""
    i = bisect_left(column, digest)
    return i if i < len(column) and column[i] == digest else -1


@pytest.mark.parametrize("n", [0, 1, 31, 33, 1000, 70_000])
def test_digest_index_finds_every_digest_and_nothing_else(n):
    rnd = random.Random(n)
    column = array("Q", sorted({rnd.getrandbits(64) for _ in range(n)} | {0, (1 << 64) - 1}))
    index = columns.DigestIndex(column)
    for i in range(0, len(column), max(1, len(column) // 500)):
        assert index.find(column[i]) == i and index.contains(column[i])
    assert index.find(0) == 0 and index.find((1 << 64) - 1) == len(column) - 1
    for _ in range(500):
        probe = rnd.getrandbits(64)
        assert index.find(probe) == find(column, probe)
        assert index.contains(probe) == (find(column, probe) >= 0)
    assert len(index.starts) - 1 <= max(1, len(column) // 16)  # ~4 bytes per 32 digests


def test_digest_index_on_an_empty_column():
    index = columns.DigestIndex(array("Q"))
    assert index.find(5) == -1 and not index.contains(5) and not index.contains(0)


def test_sorting_a_large_queue_needs_about_one_extra_copy():
    n = 300_000
    keys = array("Q", ((i * 0x9E3779B97F4A7C15) % (1 << 64) for i in range(n)))
    contents = array("Q", range(n))
    tracemalloc.start()
    out_k, _ = columns.sort_unique(keys, contents)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(out_k) == n and list(out_k[:3]) == sorted(out_k[:3])
    # sorted chunks (16 B/update) + the output (16 B/update) + one chunk's sort order. A dict
    # or a sorted list of Python ints would need over 70 bytes per update.
    assert peak < n * 16 * 2.6, f"sorting {n} updates peaked at {peak / 1e6:.1f} MB"
