"""Sorted digest columns: lookup and merge without a Python object per key.

A state of a million keys is two ``array('Q')`` columns, 16 MB. A dict of the same would take
over 100 MB, so lookups binary-search the sorted key column (``bisect`` runs in C) and a
commit merges this run's updates into a new pair of columns.
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from operator import itemgetter

BUCKET_KEYS = 32
"""Average keys per prefix bucket of a ``KeyIndex``."""

SORT_CHUNK = 1 << 16
"""Updates are sorted in chunks of this many, so sorting a million updates never holds a
million Python ints at once."""


class KeyIndex:
    """Sorted keys plus a prefix table, so a lookup bisects ~32 keys instead of all of them.

    Plain ``bisect`` over a million keys makes ~20 comparisons, each boxing a 64-bit int from
    the array; the top bits of a (uniform) digest pick its bucket directly. The table costs 4
    bytes per 32 keys.
    """

    __slots__ = ("keys", "shift", "starts")

    def __init__(self, keys: array) -> None:
        n = len(keys)
        bits = 0
        while bits < 24 and (n >> bits) > BUCKET_KEYS:
            bits += 1
        self.keys = keys
        self.shift = 64 - bits
        starts = array("I", [0]) * ((1 << bits) + 1)
        lo = 0
        for p in range(1, 1 << bits):
            lo = starts[p] = bisect_left(keys, p << self.shift, lo)
        starts[1 << bits] = n
        self.starts = starts

    def find(self, key: int) -> int:
        """Index of ``key``, or -1."""
        p = key >> self.shift
        hi = self.starts[p + 1]
        i = bisect_left(self.keys, key, self.starts[p], hi)
        if i < hi and self.keys[i] == key:
            return i
        return -1


def find(keys: array, key: int) -> int:
    """Index of ``key`` in the sorted ``keys`` column, or -1."""
    i = bisect_left(keys, key)
    if i < len(keys) and keys[i] == key:
        return i
    return -1


def _take_sorted_chunk(keys: array, contents: array, start: int) -> tuple[array, array]:
    """Sort ``[start:]`` of the columns into a new pair, then cut it off the input."""
    # sorted() is stable: equal keys keep their arrival order, so the last update wins below.
    order = sorted(range(start, len(keys)), key=keys.__getitem__)
    chunk = array("Q", [keys[i] for i in order]), array("Q", [contents[i] for i in order])
    del order, keys[start:], contents[start:]
    return chunk


def sort_unique(keys: array, contents: array) -> tuple[array, array]:
    """Updates in arrival order -> sorted unique columns; a later update of a key wins.

    Consumes its input (the columns are emptied chunk by chunk, last chunk first), so sorting
    a million updates needs about one extra copy of them, not a Python int per update.
    """
    n = len(keys)
    starts = range(0, n, SORT_CHUNK)
    chunks = [_take_sorted_chunk(keys, contents, s) for s in reversed(starts)][::-1]
    merged: Iterable[tuple[int, int]]
    if len(chunks) == 1:
        merged = zip(*chunks[0], strict=True)
    else:
        # heapq.merge yields equal keys in the order of its inputs: earlier chunks first.
        merged = heapq.merge(*(zip(k, c, strict=True) for k, c in chunks), key=itemgetter(0))
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
    the base costs one memcpy. With an empty base it returns the update columns themselves.
    """
    if not upd_keys:
        return array("Q", base_keys), array("Q", base_contents)
    if not base_keys:
        return upd_keys, upd_contents  # a first run: the updates are the state
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
