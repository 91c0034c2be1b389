"""Turn whatever a DAG hands the status sensor into one ordered, de-duplicated list of ids.

``request_ids`` reaches the sensor in many shapes: a list, the XCom of a
``DripShopperActivityOperator`` (its summary dict), the XComs of a mapped operator (a sequence of
summary dicts), or a template rendered to text (JSON, or a Python ``repr`` when the DAG does not
render native objects). Normalising here keeps the sensor and the trigger free of those cases.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from airflow_provider_drip.exceptions import DripConfigError

_SINGLE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
"""A bare string that looks like one request id (uuid-like), not a list rendered to text."""


def normalise_request_ids(value: Any) -> list[str]:
    """Ordered, de-duplicated request ids from a list, summary dict(s) or rendered text.

    Accepted: a sequence of ids; a mapping with a ``request_ids`` key (an operator summary); a
    sequence mixing ids, summaries and nested lists (a mapped operator's XComs); a JSON or Python
    literal string of any of those; a single id string. ``None`` is an error, not "no ids": it is
    what an upstream task that returned nothing gives, and silently succeeding would hide that.
    """
    ids: list[str] = []
    _collect(value, ids, depth=0)
    return list(dict.fromkeys(ids))


def _collect(value: Any, out: list[str], depth: int) -> None:
    if depth > 3:
        raise DripConfigError("request_ids is nested too deeply; pass a flat list of request ids")
    if value is None:
        raise DripConfigError(
            "request_ids is None: the upstream task returned nothing. Pass a list of request ids "
            "or the summary dict of a DripShopperActivityOperator (e.g. request_ids=orders.output)"
        )
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        _collect_text(value, out, depth)
    elif isinstance(value, Mapping):
        if "request_ids" not in value:
            raise DripConfigError(
                "request_ids got a dict without a 'request_ids' key (keys: "
                f"{sorted(map(str, value))[:10]}); pass a list of ids or an operator summary"
            )
        _collect(value["request_ids"], out, depth + 1)
    elif isinstance(value, Iterable):
        for item in value:
            if isinstance(item, (int, str)) and not isinstance(item, bool):
                _append_id(item, out)
            else:
                _collect(item, out, depth + 1)
    elif isinstance(value, int) and not isinstance(value, bool):
        _append_id(value, out)
    else:
        raise DripConfigError(
            f"request_ids must be a list of ids or an operator summary dict, got {type(value)!r}"
        )


def _collect_text(text: str, out: list[str], depth: int) -> None:
    stripped = text.strip()
    if not stripped:
        return
    if stripped[0] in "[{(":
        _collect(_parse_literal(stripped), out, depth + 1)
    elif "," in stripped:
        for part in stripped.split(","):
            _collect_text(part, out, depth)
    elif _SINGLE_ID.match(stripped):
        out.append(stripped)
    else:
        raise DripConfigError(
            f"request_ids text {stripped[:80]!r} is neither a JSON list, a summary dict nor an id"
        )


def _parse_literal(text: str) -> Any:
    """JSON first (rendered ``tojson``), then a Python literal (a rendered list/dict ``repr``)."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise DripConfigError(
            f"request_ids text {text[:80]!r} is not valid JSON or a Python list/dict literal"
        ) from None


def _append_id(item: str | int, out: list[str]) -> None:
    text = str(item).strip()
    if not text:
        raise DripConfigError("request_ids contains an empty id")
    out.append(text)


def normalise_request_id_batches(value: Any) -> tuple[list[list[str]], bool]:
    """The ids split into the batches Drip accepted them in, and whether the split is known.

    An operator summary carries ``request_id_batches`` (ids per accepted batch); a mapped
    operator's summaries give one split each. Anything else (a plain list) is one batch of
    unknown boundaries. Duplicates are dropped, keeping each id's first batch.
    """
    parsed = value
    if isinstance(parsed, bytes):
        parsed = parsed.decode()
    if isinstance(parsed, str) and parsed.strip()[:1] in ("[", "{"):
        parsed = _parse_literal(parsed.strip())
    summaries = [parsed] if isinstance(parsed, Mapping) else parsed
    if (
        isinstance(summaries, Iterable)
        and not isinstance(summaries, (str, bytes, Mapping))
        and summaries
        and all(isinstance(s, Mapping) and "request_id_batches" in s for s in summaries)
    ):
        seen: set[str] = set()
        batches: list[list[str]] = []
        for summary in summaries:
            sizes = summary["request_id_batches"]
            if not isinstance(sizes, list) or sum(sizes) != len(summary["request_ids"]):
                raise DripConfigError(
                    "request_ids: an operator summary's request_id_batches does not add up to "
                    "its request_ids; pass the summary unchanged"
                )
            position = 0
            for size in sizes:
                chunk = [str(i).strip() for i in summary["request_ids"][position : position + size]]
                position += size
                batch = [i for i in chunk if i not in seen]
                seen.update(batch)
                if batch:
                    batches.append(batch)
        return batches, True
    ids = normalise_request_ids(value)
    return ([ids] if ids else []), False
