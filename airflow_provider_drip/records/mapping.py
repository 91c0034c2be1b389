"""Source columns to Drip fields: ``field_map`` with dotted targets, and CSV-style coercion.

Coercion turns strings into the types the field table expects (numbers, integers, booleans,
delimited lists) and drops empty cells. It is for sources that only have strings (CSV); values that
cannot be coerced are left alone so validation reports them with the field name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from airflow_provider_drip.records import field_tables as R

Record = dict[str, Any]

_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})
_BOOLS = {**dict.fromkeys(_TRUE, True), **dict.fromkeys(_FALSE, False)}


def compile_field_map(
    field_map: Mapping[str, str] | None, keep_unmapped: bool
) -> Callable[[Mapping[str, Any]], Record] | None:
    """A function renaming/nesting a source record's columns, or None when nothing to do."""
    if not field_map:
        if keep_unmapped:
            return None
        return lambda rec: {}  # dropping every unmapped column of an empty map leaves nothing
    # Entries were checked by ``specs.MappingSpec`` (str -> non-empty dotted str).
    targets = [(src, tuple(dst.split("."))) for src, dst in field_map.items()]
    sources = frozenset(field_map)

    def apply(rec: Mapping[str, Any]) -> Record:
        out: Record = {k: v for k, v in rec.items() if k not in sources} if keep_unmapped else {}
        for src, parts in targets:
            if src not in rec:
                continue
            value = rec[src]
            if len(parts) == 1:
                out[parts[0]] = value
                continue
            node = out
            for part in parts[:-1]:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = dict(child) if isinstance(child, Mapping) else {}
                    node[part] = child
                node = child
            node[parts[-1]] = value
        return out

    return apply


def _coerce_value(type_: str, value: str, list_delimiter: str) -> Any:
    text = value.strip()
    if type_ == R.BOOLEAN:
        low = text.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        return value
    if type_ == R.INTEGER or type_ == R.NUMBER:
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            return value
        if number != number or number in (float("inf"), float("-inf")):
            return value  # "nan"/"inf" stay strings: validation rejects them as non-numbers
        if type_ == R.INTEGER and number.is_integer():
            return int(number)
        return number
    if type_ == R.LIST_OF_STRINGS:
        return [p for p in map(str.strip, value.split(list_delimiter)) if p]
    return value


def compile_coercer(
    fields: Mapping[str, R.Field], list_delimiter: str
) -> Callable[[Mapping[str, Any]], Record]:
    """Coerce string values per the field table; drop empty strings. Copies only when needed."""
    types = {name: spec.type for name, spec in fields.items() if spec.type in R.COERCIBLE_TYPES}
    nested = {
        name: compile_coercer(spec.fields, list_delimiter)
        for name, spec in fields.items()
        if spec.type == R.OBJECT and spec.fields
    }

    def coerce(rec: Mapping[str, Any]) -> Record:
        out: Record | None = None
        for name, value in rec.items():
            if type(value) is str:
                if value == "":
                    new: Any = _DROP
                else:
                    t = types.get(name)
                    if t is None:
                        continue
                    new = _coerce_value(t, value, list_delimiter)
                    if new is value:
                        continue
            elif name in nested and isinstance(value, Mapping):
                new = nested[name](value)
            else:
                continue
            if out is None:
                out = dict(rec)
            if new is _DROP:
                del out[name]
            else:
                out[name] = new
        if out is None:
            return rec if type(rec) is dict else dict(rec)
        return out

    return coerce


_DROP = object()


def _leaf_type(fields: Mapping[str, R.Field], parts: tuple[str, ...]) -> str | None:
    """Coercible type of the field at ``parts``, following ``compile_coercer``'s nesting rules."""
    table = fields
    for part in parts[:-1]:
        spec = table.get(part)
        if spec is None or spec.type != R.OBJECT or not spec.fields:
            return None  # the coercer does not look inside this object
        table = spec.fields
    spec = table.get(parts[-1])
    return spec.type if spec is not None and spec.type in R.COERCIBLE_TYPES else None


def _converter(type_: str | None, list_delimiter: str) -> Callable[[str], Any] | None:
    """``_coerce_value`` for one type, with a shortcut for the common well-formed cell."""
    if type_ is None:
        return None
    if type_ == R.INTEGER or type_ == R.NUMBER:

        def to_number(value: str) -> Any:
            try:
                return int(value)  # int() itself ignores surrounding whitespace
            except ValueError:
                return _coerce_value(type_, value, list_delimiter)

        to_number.kind = "number"  # type: ignore[attr-defined]
        return to_number
    if type_ == R.BOOLEAN:

        def to_bool(value: str) -> Any:
            found = _BOOLS.get(value)
            if found is None:
                return _coerce_value(type_, value, list_delimiter)
            return found

        to_bool.kind = "boolean"  # type: ignore[attr-defined]
        return to_bool
    if type_ == R.LIST_OF_STRINGS:

        def to_list(value: str) -> list[str]:
            return [p for p in map(str.strip, value.split(list_delimiter)) if p]

        return to_list
    return lambda value: _coerce_value(type_, value, list_delimiter)


def row_targets(
    header: tuple[str, ...], field_map: Mapping[str, str] | None, keep_unmapped: bool
) -> list[tuple[int, tuple[str, ...]]]:
    """(cell index, target path) of every value a CSV row under ``header`` is mapped to."""
    last: dict[str, int] = {}
    for i, name in enumerate(header):
        last[name] = i  # dict keeps first-occurrence order, value is the last column index
    if not field_map:
        return [(idx, (name,)) for name, idx in last.items()] if keep_unmapped else []
    paths = []
    if keep_unmapped:
        paths += [(i, (n,)) for n, i in last.items() if n not in field_map]
    for src, dst in field_map.items():
        if src in last:
            paths.append((last[src], tuple(dst.split("."))))
    return paths


def compile_row_plan(
    header: tuple[str, ...],
    field_map: Mapping[str, str] | None,
    keep_unmapped: bool,
    fields: Mapping[str, R.Field] | None,
    list_delimiter: str,
) -> Callable[[list[str]], Record]:
    """One CSV row (a list of cells under ``header``) -> the mapped, coerced record, in one pass.

    Same result as building the row's dict (``csv.DictReader``: a later duplicate column wins,
    missing cells are None), then with ``fields`` (coercion on) dropping empty cells, then
    ``compile_field_map`` and ``compile_coercer``. The column plan (target path, coercer, order)
    is worked out once per header instead of per field per row.
    """
    coerce = fields is not None
    steps = [
        (
            idx,
            parts[0] if len(parts) == 1 else parts,
            _converter(_leaf_type(fields, parts), list_delimiter) if coerce else None,
        )
        for idx, parts in row_targets(header, field_map, keep_unmapped)
    ]
    generic = _loop_builder(steps, len(header), coerce)
    return _generated_builder(steps, len(header), coerce, generic)


Step = tuple[int, "str | tuple[str, ...]", "Callable[[str], Any] | None"]
"""(cell index, target key or dotted path parts, converter or None)."""


def _loop_builder(steps: list[Step], width: int, coerce: bool) -> Callable[[list[str]], Record]:
    """The plan as a loop: handles any row, including one shorter than its header."""

    def build(values: list[str]) -> Record:
        out: Record = {}
        short = len(values) < width
        for idx, key, convert in steps:
            value: Any = None if short and idx >= len(values) else values[idx]
            if coerce:
                if not value:
                    continue  # empty (or missing) cell: not given
                if convert is not None:
                    value = convert(value)
            if type(key) is str:
                out[key] = value
                continue
            node = out
            for part in key[:-1]:
                child = node.get(part)
                if type(child) is not dict:
                    child = {}
                    node[part] = child
                node = child
            node[key[-1]] = value
        return out

    return build


def _generated_builder(
    steps: list[Step], width: int, coerce: bool, generic: Callable[[list[str]], Record]
) -> Callable[[list[str]], Record]:
    """The same plan unrolled into straight-line code (no per-cell loop or branching on kind).

    Only names made here appear in the source; keys and converters are passed in as constants,
    so column names never become code.
    """
    env: dict[str, Any] = {"_generic": generic, "_dict": dict}
    lines = [
        "def build(values):",
        f"    if len(values) < {width}:",
        "        return _generic(values)",
        "    out = {}",
    ]
    for n, (idx, key, convert) in enumerate(steps):
        pad = "    "
        lines.append(f"{pad}v = values[{idx}]")
        if coerce:
            lines.append(f"{pad}if v:")
            pad += "    "
        if convert is not None:
            env[f"c{n}"] = convert
            kind = getattr(convert, "kind", None)
            if kind == "number":  # inline the common case: a plain integer
                lines += [
                    f"{pad}try:",
                    f"{pad}    v = int(v)",
                    f"{pad}except ValueError:",
                    f"{pad}    v = c{n}(v)",
                ]
            elif kind == "boolean":
                env["_BOOLS"] = _BOOLS
                lines += [
                    f"{pad}b = _BOOLS.get(v)",
                    f"{pad}v = c{n}(v) if b is None else b",
                ]
            else:
                lines.append(f"{pad}v = c{n}(v)")
        if type(key) is str:
            env[f"k{n}"] = key
            lines.append(f"{pad}out[k{n}] = v")
            continue
        lines.append(f"{pad}node = out")
        for depth, part in enumerate(key[:-1]):
            env[f"p{n}_{depth}"] = part
            lines += [
                f"{pad}child = node.get(p{n}_{depth})",
                f"{pad}if type(child) is not _dict:",
                f"{pad}    child = node[p{n}_{depth}] = {{}}",
                f"{pad}node = child",
            ]
        env[f"k{n}"] = key[-1]
        lines.append(f"{pad}node[k{n}] = v")
    lines.append("    return out")
    exec(compile("\n".join(lines), "<drip csv row plan>", "exec"), env)
    return env["build"]
