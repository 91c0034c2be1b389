"""A shortcut for JSON lines: a rules table compiled into msgspec Structs, so checking runs in C.

``compile_line_check(rules)`` returns ``accepts(line: bytes) -> bool``. True means the line is one
JSON object that ``records/validate.py`` would pass unchanged, so the pipeline may forward the
line's own bytes as the payload: no decode into a dict, no Python validation, no re-encoding.
False means only "not sure": the pipeline then takes its ordinary path, which gives the verdict and
the violation messages. So this module may refuse anything it likes, but must never accept a
record the validator would reject (``tests/unit/records/test_jsonl_check.py`` checks exactly that).

What the Structs cannot say is checked afterwards in Python on the decoded Struct: email, URL and
SMS patterns, ISO-8601 datetimes, required fields not being ``""``, and "one of" groups. Unknown
keys are refused (``forbid_unknown_fields``), because a Struct skips an unknown key's value
without looking at it (an out-of-range number like ``1e400`` would slip through); records with
custom keys take the ordinary path.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, Optional

import msgspec

from airflow_provider_drip.records import field_tables as R
from airflow_provider_drip.records.validate import EMAIL, SMS, URL, is_iso_datetime

_PATTERNS = {R.EMAIL: EMAIL, R.URL: URL, R.SMS_NUMBER: SMS}

Residual = Callable[[Any], bool]
"""A check of a decoded Struct the Struct type itself cannot express; True when it passes."""


def _limited(type_: Any, spec: R.Field) -> Any:
    if spec.max_exclusive is None:
        return type_
    return Annotated[type_, msgspec.Meta(lt=spec.max_exclusive)]


def _field_type(spec: R.Field, name: str) -> tuple[Any, Residual | None]:
    """(msgspec type, residual check of a present value or None) for one field spec."""
    t = spec.type
    if t == R.STRING:
        return (Literal[spec.enum] if spec.enum else str), None  # type: ignore[valid-type]
    if t == R.ID:
        return str | int, None
    if t == R.NUMBER:
        return _limited(int, spec) | _limited(float, spec), None
    if t == R.INTEGER:
        return _limited(int, spec), None
    if t == R.BOOLEAN:
        return bool, None
    if t == R.DATETIME:
        return str, is_iso_datetime
    if t in _PATTERNS:
        return str, _PATTERNS[t]  # a match object is truthy, no match is None
    if t == R.LIST_OF_STRINGS:
        return list[str], None  # one string is normalised on the ordinary path
    if t == R.OBJECT:
        if not spec.fields:
            return dict, None  # any JSON object (a line holds no bytes or sets)
        struct, residual = _struct(spec.fields, (), name)
        return struct, residual
    if t == R.ITEMS:
        struct, residual = _struct(spec.fields or {}, (), name + "_item")
        if residual is None:
            return list[struct], None  # type: ignore[valid-type]
        return list[struct], lambda items: all(map(residual, items))  # type: ignore[valid-type]
    raise ValueError(f"no msgspec type for field type {t!r}")


def _struct(
    fields: Mapping[str, R.Field], one_of: tuple[tuple[str, ...], ...], name: str
) -> tuple[type[msgspec.Struct], Residual | None]:
    """A Struct for a field table (required fields first: msgspec needs defaults last)."""
    required: list[tuple[str, Any]] = []
    optional: list[tuple[str, Any, None]] = []
    checks: list[tuple[str, Residual]] = []
    for field_name, spec in fields.items():
        type_, residual = _field_type(spec, field_name)
        if spec.required:
            required.append((field_name, type_))
        else:
            optional.append((field_name, Optional[type_], None))  # noqa: UP045 (a runtime type)
        if residual is not None:
            checks.append((field_name, residual))
    struct = msgspec.defstruct(
        f"Drip_{name}", [*required, *optional], forbid_unknown_fields=True, gc=False
    )
    not_empty = [field for field, _ in required]  # the validator's "required" refuses "" too
    if not checks and not not_empty and not one_of:
        return struct, None
    return struct, _residual_function(checks, not_empty, one_of)


def _residual_function(
    checks: list[tuple[str, Residual]],
    not_empty: list[str],
    one_of: tuple[tuple[str, ...], ...],
) -> Residual:
    """The residual checks unrolled into straight-line code (it runs once per line).

    Field names come from ``field_tables.py`` and must be identifiers; checks are passed in as
    constants, so no data ever becomes code.
    """
    names = [n for n, _ in checks] + not_empty + [n for group in one_of for n in group]
    for field_name in names:
        if not field_name.isidentifier() or keyword.iskeyword(field_name):
            raise ValueError(f"field name {field_name!r} is not an identifier")
    env: dict[str, Any] = {}
    lines = ["def residual(obj):"]
    for n, (field_name, check) in enumerate(checks):
        env[f"c{n}"] = check
        lines += [
            f"    v = obj.{field_name}",
            f"    if v is not None and not c{n}(v):",
            "        return False",
        ]
    lines += [f"    if obj.{field_name} == '':\n        return False" for field_name in not_empty]
    for group in one_of:
        present = " or ".join(f"(obj.{n} is not None and obj.{n} != '')" for n in group)
        lines += [f"    if not ({present}):", "        return False"]
    lines.append("    return True")
    exec(compile("\n".join(lines), "<drip residual check>", "exec"), env)
    return env["residual"]


def compile_line_check(rules: R.ResourceRules) -> Callable[[bytes], bool]:
    """``accepts(line)``: True only for a JSON object the validator passes as it is."""
    struct, residual = _struct(rules.fields, rules.one_of, rules.resource)
    decode = msgspec.json.Decoder(struct).decode
    # ValidationError is a DecodeError; bytes that are not UTF-8 inside a string raise
    # UnicodeDecodeError instead: "not sure" either way, the ordinary path gives the verdict.
    refused = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)

    def accepts(line: bytes) -> bool:
        try:
            obj = decode(line)
        except refused:
            return False
        return residual is None or residual(obj)

    return accepts
