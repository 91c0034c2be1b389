"""Sorted digest columns: lookup and merge without a Python object per key.

A state of a million keys is two ``array('Q')`` columns, 16 MB. A dict of the same would take
over 100 MB, so lookups binary-search the sorted key column (``bisect`` runs in C) and a
commit merges this run's updates into a new pair of columns.
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from operator import itemgetter

SORT_CHUNK = 1 << 16
"""Updates are sorted in chunks of this many, so sorting a million updates never holds a
million Python ints at once."""


def find(keys: array, key: int) -> int:
    """Index of ``key`` in the sorted ``keys`` column, or -1."""
    i = bisect_left(keys, key)
    if i < len(keys) and keys[i] == key:
        return i
    return -1


def _sorted_chunk(keys: array, contents: array, start: int, stop: int) -> Iterator[tuple[int, int]]:
    # sorted() is stable: equal keys keep their arrival order, so the last update wins below.
    order = sorted(range(start, stop), key=keys.__getitem__)
    return ((keys[i], contents[i]) for i in order)


def sort_unique(keys: array, contents: array) -> tuple[array, array]:
    """Updates in arrival order -> sorted unique columns; a later update of a key wins."""
    n = len(keys)
    chunks = [
        _sorted_chunk(keys, contents, s, min(s + SORT_CHUNK, n)) for s in range(0, n, SORT_CHUNK)
    ]
    merged: Iterable[tuple[int, int]]
    # heapq.merge yields equal keys in the order of its inputs: earlier chunks first.
    merged = chunks[0] if len(chunks) == 1 else heapq.merge(*chunks, key=itemgetter(0))
    out_k, out_c = array("Q"), array("Q")
    for k, c in merged:
        if out_k and out_k[-1] == k:
            out_c[-1] = c
        else:
            out_k.append(k)
            out_c.append(c)
    return out_k, out_c


def merge(
    base_keys: array, base_contents: array, upd_keys: array, upd_contents: array
) -> tuple[array, array]:
    """Sorted unique update columns merged into sorted base columns; updates win.

    Copies the base in runs between update positions, so the Python work is per update and
    the base costs one memcpy.
    """
    if not upd_keys:
        return array("Q", base_keys), array("Q", base_contents)
    out_k, out_c = array("Q"), array("Q")
    nb = len(base_keys)
    prev = 0
    for k, c in zip(upd_keys, upd_contents, strict=True):
        i = bisect_left(base_keys, k, prev)
        if i > prev:
            out_k.extend(base_keys[prev:i])
            out_c.extend(base_contents[prev:i])
        out_k.append(k)
        out_c.append(c)
        prev = i + 1 if i < nb and base_keys[i] == k else i
    if prev < nb:
        out_k.extend(base_keys[prev:])
        out_c.extend(base_contents[prev:])
    return out_k, out_c
