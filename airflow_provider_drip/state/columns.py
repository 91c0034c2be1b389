"""Digest columns ordered by content: lookup and merge without a Python object per key.

A state of a million keys is two ``array('Q')`` columns, 16 MB; a dict of the same would take
over 100 MB. The columns are ordered by content digest, because the hot question of a
changed-mode pass is "did Drip accept exactly these bytes?", asked for every record; that is
one lookup in the content column, answered without decoding the record for its key. Questions
by key (is it known? what replaces what at a commit) are asked only for records sent, and are
answered by C-level scans of the key column.
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator
from itertools import compress, repeat
from operator import itemgetter, not_

BUCKET_KEYS = 32
"""Average digests per prefix bucket of a ``DigestIndex``."""

SORT_CHUNK = 1 << 16
"""Columns are sorted in chunks of this many, so sorting a million pairs never holds a million
Python ints at once."""


class DigestIndex:
    """A sorted column plus a prefix table, so a lookup bisects ~32 digests, not all of them.

    Plain ``bisect`` over a million digests makes ~20 comparisons, each a cache miss and an int
    boxed from the array; the top bits of a (uniform) digest pick its bucket directly. The table
    costs 4 bytes per 32 digests and is built by C-level bisects (~30 ms for a million).
    """

    __slots__ = ("column", "contains", "shift", "starts")

    def __init__(self, column: array) -> None:
        n = len(column)
        bits = 0
        while bits < 24 and (n >> bits) > BUCKET_KEYS:
            bits += 1
        self.column = column
        self.shift = 64 - bits
        starts = array("I", map(bisect_left, repeat(column), range(0, 1 << 64, 1 << self.shift)))
        starts.append(n)
        self.starts = starts
        self.contains = self._compile_contains()
        """``contains(digest) -> bool`` as a closure over locals: it runs once per record."""

    def _compile_contains(self) -> Callable[[int], bool]:
        column, starts, shift = self.column, self.starts, self.shift
        search = bisect_left

        def contains(digest: int) -> bool:
            p = digest >> shift
            hi = starts[p + 1]
            i = search(column, digest, starts[p], hi)
            return i < hi and column[i] == digest

        return contains

    def find(self, digest: int) -> int:
        """Index of the first ``digest`` in the column, or -1."""
        p = digest >> self.shift
        hi = self.starts[p + 1]
        i = bisect_left(self.column, digest, self.starts[p], hi)
        if i < hi and self.column[i] == digest:
            return i
        return -1


def _take_sorted_chunk(by: array, other: array, start: int) -> tuple[array, array]:
    """Sort ``[start:]`` of the columns by ``by`` into a new pair, then cut it off the input."""
    # sorted() is stable: equal digests keep their arrival order.
    order = sorted(range(start, len(by)), key=by.__getitem__)
    chunk = array("Q", [by[i] for i in order]), array("Q", [other[i] for i in order])
    del order, by[start:], other[start:]
    return chunk


def _sorted_pairs(by: array, other: array) -> Iterator[tuple[int, int]]:
    """``(by, other)`` pairs in ``by`` order, stable. Consumes its input (emptied chunk by
    chunk, last chunk first), so it needs about one extra copy of the columns."""
    starts = range(0, len(by), SORT_CHUNK)
    chunks = [_take_sorted_chunk(by, other, s) for s in reversed(starts)][::-1]
    if len(chunks) == 1:
        return zip(*chunks[0], strict=True)
    # heapq.merge yields equal digests in the order of its inputs: earlier chunks first.
    return heapq.merge(*(zip(b, o, strict=True) for b, o in chunks), key=itemgetter(0))


def sort_unique(keys: array, contents: array) -> tuple[array, array]:
    """Updates in arrival order -> columns sorted by key, one per key; a later update wins.

    Consumes its input.
    """
    out_k, out_c = array("Q"), array("Q")
    for k, c in _sorted_pairs(keys, contents):
        if out_k and out_k[-1] == k:
            out_c[-1] = c
        else:
            out_k.append(k)
            out_c.append(c)
    return out_k, out_c


def sort_by_content(keys: array, contents: array) -> tuple[array, array]:
    """The same pairs ordered by content digest. Consumes its input."""
    out_k, out_c = array("Q"), array("Q")
    append_k, append_c = out_k.append, out_c.append
    for c, k in _sorted_pairs(contents, keys):
        append_k(k)
        append_c(c)
    return out_k, out_c


def replace(
    base_keys: array, base_contents: array, upd_keys: array, upd_contents: array
) -> tuple[array, array]:
    """Content-ordered base columns with every updated key's entry replaced by its update.

    ``upd_*`` hold one entry per key, ordered by content. The base loses the entries of updated
    keys (a C-level scan of its key column), then the updates are merged in by content, copying
    the base in runs between update positions: Python work per update, one memcpy for the rest.
    The base columns are not modified.
    """
    if not base_keys:
        return array("Q", upd_keys), array("Q", upd_contents)
    drop = set(upd_keys)
    if drop.isdisjoint(base_keys):
        kept_k, kept_c = base_keys, base_contents
    else:
        keep = list(map(not_, map(drop.__contains__, base_keys)))
        kept_k = array("Q", compress(base_keys, keep))
        kept_c = array("Q", compress(base_contents, keep))
        del keep
    del drop
    if not upd_keys:
        return array("Q", kept_k), array("Q", kept_c)
    out_k, out_c = array("Q"), array("Q")
    n = len(kept_c)
    prev = 0
    for k, c in zip(upd_keys, upd_contents, strict=True):
        i = bisect_left(kept_c, c, prev)
        if i > prev:
            out_k.extend(kept_k[prev:i])
            out_c.extend(kept_c[prev:i])
        out_k.append(k)
        out_c.append(c)
        prev = i
    if prev < n:
        out_k.extend(kept_k[prev:])
        out_c.extend(kept_c[prev:])
    return out_k, out_c
