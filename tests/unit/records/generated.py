"""Generated subscriber inputs shared by the property tests of chunking and of the spool."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from airflow_provider_drip.resources import RESOURCES

PREFIX, SUFFIX = RESOURCES["subscribers"].envelope_prefix_suffix()


def kinds(*, dups: bool, max_size: int) -> st.SearchStrategy[list[tuple[str, int]]]:
    """Specs of rows: valid ("ok", padded by the int), invalid ("bad"), dropped by ``drop``
    ("drop") and, with ``dups``, emails repeated case-insensitively ("dup")."""
    names = ["ok", "ok", "ok", "bad", "drop", *(["dup"] if dups else [])]
    return st.lists(st.tuples(st.sampled_from(names), st.integers(0, 40)), max_size=max_size)


def build(spec: list[tuple[str, int]]) -> list[dict[str, Any]]:
    """Rows for ``spec``; each carries its index ``i`` so order is checkable."""
    rows = []
    for i, (kind, pad) in enumerate(spec):
        if kind == "bad":
            rows.append({"email": "broken", "i": i})
        elif kind == "drop":
            rows.append({"email": f"u{i}@x.co", "drop": True, "i": i})
        elif kind == "dup":
            rows.append({"email": f"U{pad % 3}@x.co", "i": i})
        else:
            rows.append({"email": f"u{i}@x.co", "first_name": "x" * pad, "i": i})
    return rows


def drop(rec: dict[str, Any]) -> dict[str, Any] | None:
    """A transform that filters the rows marked ``drop``."""
    return None if rec.get("drop") else rec
