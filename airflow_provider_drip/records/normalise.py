"""Documented alternative forms of a value turned into the canonical one the validator wants.

Drip's own examples show a few forms its field tables do not: one tag as a string
(``"tags": "Dog Person"``). The client sends the canonical form, so it is never looser than the
server: a string becomes a one-element list, an exactly integral float becomes an integer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from airflow_provider_drip.records import field_tables as R


def compile_normaliser(
    fields: Mapping[str, R.Field],
) -> Callable[[Mapping[str, Any]], dict[str, Any] | None]:
    """The documented alternative forms turned into the canonical ones, or None if none apply.

    - one string for a list of strings: Drip's own Node example sends ``"tags": "Dog Person"``;
      it becomes ``["Dog Person"]`` (``""`` means "not given" and is dropped);
    - an exactly integral float or Decimal for an integer field (``5.0`` -> ``5``), as CSV
      coercion does; ``5.5`` stays and is rejected.
    The pipeline calls it only for a record that failed validation, then validates again, so a
    valid record pays nothing and what is sent is always what the validator passed.
    """
    fixes: dict[str, Callable[[Any], Any]] = {}
    for name, spec in fields.items():
        if spec.type == R.LIST_OF_STRINGS:
            fixes[name] = _one_string_to_list
        elif spec.type == R.INTEGER:
            fixes[name] = _integral_to_int
        elif spec.type in (R.ITEMS, R.OBJECT) and spec.fields:
            inner = compile_normaliser(spec.fields)
            fixes[name] = _each_item(inner) if spec.type == R.ITEMS else _nested(inner)

    def normalise(rec: Mapping[str, Any]) -> dict[str, Any] | None:
        out: dict[str, Any] | None = None
        for name, fix in fixes.items():
            v = rec.get(name)
            if v is None:
                continue
            new = fix(v)
            if new is _SAME:
                continue
            if out is None:
                out = dict(rec)
            if new is _DROP:
                del out[name]
            else:
                out[name] = new
        return out

    return normalise


_SAME = object()
_DROP = object()
_MAX_EXACT = 2**53


def _one_string_to_list(v: Any) -> Any:
    if type(v) is not str:
        return _SAME
    return [v] if v else _DROP


def _integral_to_int(v: Any) -> Any:
    if type(v) is float:
        if v.is_integer() and abs(v) <= _MAX_EXACT:
            return int(v)
    elif type(v) is Decimal and v.is_finite() and v == v.to_integral_value():
        return int(v)
    return _SAME


def _nested(inner: Callable[[Mapping[str, Any]], dict[str, Any] | None]) -> Callable[[Any], Any]:
    def fix(v: Any) -> Any:
        if not isinstance(v, Mapping):
            return _SAME
        new = inner(v)
        return _SAME if new is None else new

    return fix


def _each_item(inner: Callable[[Mapping[str, Any]], dict[str, Any] | None]) -> Callable[[Any], Any]:
    def fix(v: Any) -> Any:
        if not isinstance(v, (list, tuple)):
            return _SAME
        out = None
        for i, item in enumerate(v):
            new = inner(item) if isinstance(item, Mapping) else None
            if new is not None:
                if out is None:
                    out = list(v)
                out[i] = new
        return _SAME if out is None else out

    return fix
