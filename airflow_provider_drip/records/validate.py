"""The validator engine: compiles a ``rules.ResourceRules`` table into one fast check per record.

The rules are data (``records/field_tables.py``); this module is the mechanism. Each field
spec becomes a small closure, picked once per type, so validating a record costs one dict lookup
and one type test per present field, and nothing for fields the table does not know.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from airflow_provider_drip.records import field_tables as R
from airflow_provider_drip.records.errors import Violation

Check = Callable[[Any, str], "list[Violation] | None"]
"""A compiled field check: (value, field path) -> violations or None."""

# Loose on purpose where Drip is (one "@", no spaces, a dot in the domain), but never looser
# than the server: the emulator's own patterns (emulator/validation.py) accept all these match.
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+").fullmatch
_LABEL = r"[^\s/?#:@.\[\]]+"
URL = re.compile(
    rf"https?://(?:{_LABEL}\.)*{_LABEL}(?::\d{{1,5}})?(?:[/?#]\S*)?", re.IGNORECASE
).fullmatch
"""An absolute http(s) URL whose host is dot-separated non-empty labels (no ``http://.x``)."""
SMS = re.compile(r"\+1\d{10}").fullmatch
_ISO_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?"
).fullmatch
_LONG_FRACTION = re.compile(r"\.(\d{6})\d+")


def is_iso_datetime(value: str) -> bool:
    """An ISO-8601 date *and* time, as the docs' "String time ... in ISO-8601 format" says.

    ``datetime.fromisoformat`` alone also takes ``20240101``, ``2024-01-01T10`` and
    ``2024-W01-1``, which Drip (and the emulator) refuse; the pattern holds the form, and
    ``fromisoformat`` the calendar (no month 13).
    """
    if _ISO_DATETIME(value) is None:
        return False
    try:
        datetime.fromisoformat(_LONG_FRACTION.sub(r".\1", value.replace("Z", "+00:00")))
    except ValueError:
        return False
    return True


UNSUPPORTED_TYPES = frozenset({bytes, bytearray, memoryview, set, frozenset})
"""Values msgspec would quietly send as base64 or as an unordered array: rejected instead."""
_CONTAINERS = frozenset({dict, list, tuple})


def _typename(value: Any) -> str:
    return type(value).__name__


def _is_number(value: Any) -> bool:
    t = type(value)
    return t is int or t is float or (t is not bool and isinstance(value, (int, float, Decimal)))


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, Decimal):
        return value.is_finite()
    return True


def _type_error(path: str, expected: str, value: Any) -> list[Violation]:
    return [Violation(path, "type", f"expected {expected}, got {_typename(value)}")]


def _compile_scalar(spec: R.Field) -> Check:
    t = spec.type
    enum = frozenset(spec.enum) if spec.enum else None
    enum_text = ", ".join(spec.enum) if spec.enum else ""
    maximum = spec.max_exclusive

    if t == R.STRING:
        if enum is None:

            def check(v: Any, path: str) -> list[Violation] | None:
                return None if isinstance(v, str) else _type_error(path, "string", v)

            return check

        def check_enum(v: Any, path: str) -> list[Violation] | None:
            if not isinstance(v, str):
                return _type_error(path, "string", v)
            if v not in enum:
                return [Violation(path, "enum", f"{v!r} is not one of: {enum_text}")]
            return None

        return check_enum

    if t == R.ID:

        def check_id(v: Any, path: str) -> list[Violation] | None:
            if isinstance(v, str) or (type(v) is not bool and isinstance(v, int)):
                return None
            return _type_error(path, "string or integer id", v)

        return check_id

    if t in (R.NUMBER, R.INTEGER):
        integer = t == R.INTEGER

        def check_number(v: Any, path: str) -> list[Violation] | None:
            tv = type(v)
            if (tv is int or (tv is float and not integer and v - v == 0.0)) and (
                maximum is None or v < maximum
            ):
                return None
            if not _is_number(v):
                return _type_error(path, t, v)
            if not _finite(v):
                return [Violation(path, "finite_number", f"{v} is not a finite number")]
            if integer and type(v) is not int:
                return [Violation(path, "type", f"expected integer, got {v!r}")]
            if maximum is not None and v >= maximum:
                return [Violation(path, "range", f"{v} must be less than {maximum:,.0f}")]
            return None

        return check_number

    if t == R.BOOLEAN:

        def check_bool(v: Any, path: str) -> list[Violation] | None:
            return None if v is True or v is False else _type_error(path, "boolean", v)

        return check_bool

    if t == R.DATETIME:

        def check_datetime(v: Any, path: str) -> list[Violation] | None:
            if isinstance(v, str):
                if is_iso_datetime(v):
                    return None
                text = "is not an ISO-8601 date-time (e.g. 2024-01-01T10:00:00Z)"
                return [Violation(path, "datetime_format", f"{v!r} {text}")]
            if isinstance(v, datetime):  # pendulum's DateTime subclasses it
                return None
            if isinstance(v, date):
                text = "a date without a time; Drip wants an ISO-8601 date-time"
                return [Violation(path, "datetime_format", f"{v.isoformat()!r} is {text}")]
            return _type_error(path, "ISO-8601 datetime string", v)

        return check_datetime

    patterns = {
        R.EMAIL: (EMAIL, "email_format", "is not a valid email address"),
        R.URL: (URL, "url_format", "is not an absolute http(s) URL"),
        R.SMS_NUMBER: (SMS, "sms_format", "is not a US mobile number in E.164 (+1XXXXXXXXXX)"),
    }
    if t in patterns:
        match, rule, text = patterns[t]

        def check_pattern(v: Any, path: str) -> list[Violation] | None:
            if not isinstance(v, str):
                return _type_error(path, "string", v)
            if match(v) is None:
                return [Violation(path, rule, f"{v!r} {text}")]
            return None

        return check_pattern

    if t == R.LIST_OF_STRINGS:

        def check_list(v: Any, path: str) -> list[Violation] | None:
            if type(v) is list:
                for item in v:
                    if type(item) is not str:
                        break
                else:
                    return None
            if not isinstance(v, (list, tuple)):  # one string: see compile_normaliser
                return _type_error(path, "list of strings", v)
            for i, item in enumerate(v):
                if not isinstance(item, str):
                    return _type_error(f"{path}[{i}]", "string", item)
            return None

        return check_list

    raise ValueError(f"no scalar check for type {t!r}")


def compile_fields(
    fields: Mapping[str, R.Field],
    one_of: tuple[tuple[str, ...], ...] = (),
    only: Iterable[str] | None = None,
) -> Callable[[Mapping[str, Any], str], list[Violation] | None]:
    """Compile a field table into ``check(mapping, path_prefix) -> violations | None``.

    With ``only``, values are type-checked for those fields alone (the caller knows every other
    key holds a valid value); required fields and "one of" groups are still checked.
    """
    required = tuple(name for name, spec in fields.items() if spec.required)
    groups = tuple((g, "|".join(g), " or ".join(g)) for g in one_of)
    if only is not None:
        names = tuple(name for name in only if name in fields)
        return _compile_partial(fields, names, required, groups)
    checks: dict[str, Check] = {name: _compile_field(spec) for name, spec in fields.items()}
    # Per known field, the exact types that need no further look (a str for a plain string
    # field...): one dict lookup and one set test per field, and nothing more for unknown ones.
    none: frozenset[type] = frozenset()
    fast = {name: _always_valid_types(spec) or none for name, spec in fields.items()}
    NoneType = type(None)
    check_free = _check_free_value

    def check(rec: Mapping[str, Any], prefix: str = "") -> list[Violation] | None:
        out: list[Violation] | None = None
        for name, v in rec.items():
            ok = fast.get(name)
            if ok is None:  # a field the table does not know: passed through if JSON can
                if type(v) in _SUSPECT:
                    errs = check_free(v, prefix + name)
                    if errs:
                        out = out or []
                        out.extend(errs)
                continue
            tv = type(v)
            if tv in ok or tv is NoneType:
                continue
            errs = checks[name](v, prefix + name)
            if errs:
                out = out or []
                out.extend(errs)
        if required or groups:
            out = _add_presence_violations(out, rec, prefix, required, groups)
        return out

    return check


def _add_presence_violations(
    out: list[Violation] | None,
    rec: Mapping[str, Any],
    prefix: str,
    required: tuple[str, ...],
    groups: tuple[tuple[tuple[str, ...], str, str], ...],
) -> list[Violation] | None:
    """``out`` (the value violations so far) plus missing required fields and "one of" groups."""
    for name in required:
        v = rec.get(name)
        if v is None or v == "":
            out = out or []
            out.append(Violation(prefix + name, "required", f"{name} is required"))
    for group, label, text in groups:
        for name in group:
            v = rec.get(name)
            if v is not None and v != "":
                break
        else:
            out = out or []
            out.append(Violation(prefix + label, "one_of_required", f"one of {text} is required"))
    return out


def _compile_partial(
    fields: Mapping[str, R.Field],
    names: tuple[str, ...],
    required: tuple[str, ...],
    groups: tuple[tuple[tuple[str, ...], str, str], ...],
) -> Callable[[Mapping[str, Any], str], list[Violation] | None]:
    """``compile_fields`` looking only at ``names`` (and at presence rules)."""
    none: frozenset[type] = frozenset()
    named_checks = tuple(
        (name, _always_valid_types(fields[name]) or none, _compile_field(fields[name]))
        for name in names
    )

    def check(rec: Mapping[str, Any], prefix: str = "") -> list[Violation] | None:
        out: list[Violation] | None = None
        for name, ok, field_check in named_checks:
            v = rec.get(name)
            if v is not None and type(v) not in ok:
                errs = field_check(v, prefix + name)
                if errs:
                    out = out or []
                    out.extend(errs)
        if required or groups:
            out = _add_presence_violations(out, rec, prefix, required, groups)
        return out

    return check


def valid_by_construction(
    targets: Iterable[tuple[str, ...]], fields: Mapping[str, R.Field], coerced: bool = False
) -> frozenset[str]:
    """Top-level fields a CSV row plan always fills with a valid value (or leaves out).

    A cell is a string (or None for a missing cell), a delimited-list field is coerced into a
    list of strings, and dotted targets build a dict. So a plain string or id field fed only by
    single-name targets and a free-form object fed only by dotted targets need no type check, nor
    does a list-of-strings field when ``coerced`` (without coercion its cell stays one string).
    Presence rules are not covered by this.
    """
    by_field: dict[str, list[tuple[str, ...]]] = {}
    for parts in targets:
        by_field.setdefault(parts[0], []).append(parts)
    safe = set()
    for name, paths in by_field.items():
        spec = fields.get(name)
        if spec is None or spec.enum is not None:
            continue
        if all(len(p) == 1 for p in paths):
            fits = spec.type in (R.STRING, R.ID) or (coerced and spec.type == R.LIST_OF_STRINGS)
        else:
            fits = all(len(p) > 1 for p in paths) and spec.type == R.OBJECT and not spec.fields
        if fits:
            safe.add(name)
    return frozenset(safe)


def compile_row_validator(
    targets: Sequence[tuple[str, ...]], rules: R.ResourceRules, coerced: bool = False
) -> Callable[[Mapping[str, Any], str], list[Violation] | None]:
    """The validator for records a CSV row plan builds from ``targets`` (its target paths; with
    ``coerced`` the plan coerces cells): it type-checks only the fields the plan can fill with
    an invalid value."""
    safe = valid_by_construction(targets, rules.fields, coerced)
    present = dict.fromkeys(parts[0] for parts in targets)  # the record's key order
    only = [name for name in present if name not in safe]
    return compile_fields(rules.fields, rules.one_of, only=only)


def _always_valid_types(spec: R.Field) -> frozenset[type] | None:
    """Python types that satisfy ``spec`` whatever their value (the validator's fast path)."""
    if spec.enum is not None or spec.max_exclusive is not None:
        return None
    t = spec.type
    if t == R.STRING:
        return frozenset({str})
    if t == R.ID:
        return frozenset({str, int})
    if t == R.BOOLEAN:
        return frozenset({bool})
    if t in (R.NUMBER, R.INTEGER):
        return frozenset({int})
    return None


def _compile_field(spec: R.Field) -> Check:
    if spec.type == R.OBJECT:
        inner = compile_fields(spec.fields) if spec.fields else None

        def check_object(v: Any, path: str) -> list[Violation] | None:
            if not isinstance(v, Mapping):
                return _type_error(path, "object", v)
            if inner is not None:
                return inner(v, path + ".")
            return _check_free_value(v, path)  # free-form: any JSON value, at any depth

        return check_object

    if spec.type == R.ITEMS:
        item_check = compile_fields(spec.fields or {})

        def check_items(v: Any, path: str) -> list[Violation] | None:
            if not isinstance(v, (list, tuple)):
                return _type_error(path, "array of objects", v)
            out: list[Violation] = []
            for i, item in enumerate(v):
                if not isinstance(item, Mapping):
                    out.extend(_type_error(f"{path}[{i}]", "object", item))
                    continue
                errs = item_check(item, f"{path}[{i}].")
                if errs:
                    out.extend(errs)
            return out or None

        return check_items

    return _compile_scalar(spec)


_SUSPECT = UNSUPPORTED_TYPES | _CONTAINERS


def _check_free_value(value: Any, path: str) -> list[Violation] | None:
    """Violations of a value no field table describes: it must be something JSON can carry as
    it is (no bytes, no sets) and not nested deeper than ``MAX_DEPTH``."""
    found = find_unsupported(value, path)
    if found is None:
        return None
    where, problem = found
    return [Violation(where, "unsupported_type", problem)]


MAX_DEPTH = 100
"""Deepest nesting accepted in a record (a 100,000-level record is refused, not a crash)."""


def find_unsupported(value: Any, path: str = "", depth: int = 0) -> tuple[str, str] | None:
    """(path, problem) of the first bytes, set or too-deep nesting in ``value``; iterative in
    depth only up to ``MAX_DEPTH``, so a hostile record cannot exhaust the stack."""
    t = type(value)
    if t in UNSUPPORTED_TYPES or (t not in _CONTAINERS and isinstance(value, (bytes, set))):
        kind = "binary data" if isinstance(value, (bytes, bytearray, memoryview)) else "a set"
        hint = "decode it to a string" if kind == "binary data" else "make it a sorted list"
        return path or "<record>", f"{t.__name__} is {kind}, which JSON cannot carry; {hint}"
    if t is dict or t is list or t is tuple or isinstance(value, (Mapping, list, tuple)):
        if depth >= MAX_DEPTH:
            return path or "<record>", f"nested deeper than {MAX_DEPTH} levels"
        items = value.items() if isinstance(value, Mapping) else enumerate(value)
        mapping = isinstance(value, Mapping)
        for k, v in items:
            if type(v) in _SUSPECT or not isinstance(v, (str, int, float, type(None))):
                sub = (f"{path}.{k}" if path else str(k)) if mapping else f"{path}[{k}]"
                found = find_unsupported(v, sub, depth + 1)
                if found is not None:
                    return found
    return None


def compile_validator(
    rules: R.ResourceRules,
) -> Callable[[Mapping[str, Any]], list[Violation] | None]:
    """One function checking a whole record of ``rules.resource``."""
    return compile_fields(rules.fields, rules.one_of)  # its path prefix defaults to ""


def find_non_finite(value: Any, path: str = "") -> str | None:
    """Path of the first NaN/infinity anywhere in ``value`` (JSON cannot carry them)."""
    if isinstance(value, (float, Decimal)):
        return None if _finite(value) else (path or "<record>")
    if isinstance(value, Mapping):
        for k, v in value.items():
            found = find_non_finite(v, f"{path}.{k}" if path else str(k))
            if found is not None:
                return found
    elif isinstance(value, (list, tuple, set, frozenset)):
        for i, v in enumerate(value):
            found = find_non_finite(v, f"{path}[{i}]")
            if found is not None:
                return found
    return None
