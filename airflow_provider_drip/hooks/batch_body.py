"""Is a 2xx answer to a batch really an acceptance? The documented success body, checked.

A 2xx is not trusted whatever it says: a captive portal's HTML page, a proxy's empty 200, or a
v3 answer with fewer request ids than records must not advance a sync past records Drip may
never have taken. What is accepted, per ``BatchResource.success_body``:

- ``empty_object`` (Drip documents ``{}``): a JSON object without ``errors``, or an empty body
  that the answer declares empty (``Content-Length: 0`` or a completed chunked body). A declared
  empty body is "nothing", which is not looser than the documented shape; an empty body that just
  ended with the connection is not tolerated, because a connection cut right after the status
  line reads exactly like that. An object with extra keys is still the documented shape; HTML,
  arrays, strings are not.
- ``none`` (204): an empty body only.
- ``request_ids``: an object whose ``request_ids`` is a list of exactly one non-empty string (or
  integer) per record sent: the ids are how Drip's processing is confirmed, so anything else
  (``null`` entries, a count mismatch, a non-list) is not an acceptance.
"""

from __future__ import annotations

from typing import Any

NOT_JSON = object()
"""Marker for a body that did not parse as JSON."""


class UnexpectedSuccessBody(ValueError):
    """A 2xx whose body is not the documented success shape; the message says how."""


def check_success_body(
    shape: str, text: str, body: Any, record_count: int, *, framed: bool = True
) -> list[str]:
    """The request ids of an accepted batch (``[]`` for v2), or raise UnexpectedSuccessBody.

    ``body`` is the parsed JSON, or :data:`NOT_JSON`; ``framed`` says whether the answer declared
    its length (``Content-Length`` or chunked), rather than ending with the connection.
    """
    empty = not text.strip()
    if shape == "none":
        if not empty:
            raise UnexpectedSuccessBody(f"expected no body, got {_describe(text, body)}")
        return []
    if shape == "empty_object":
        if empty and framed:
            return []
        if empty:
            raise UnexpectedSuccessBody(
                "an empty body that ended with the connection (no Content-Length): possibly a "
                "truncated answer"
            )
        if not isinstance(body, dict):
            raise UnexpectedSuccessBody(f"expected a JSON object, got {_describe(text, body)}")
        if body.get("errors"):
            raise UnexpectedSuccessBody(f"the body carries errors: {str(body['errors'])[:200]}")
        return []
    if shape == "request_ids":
        ids = body.get("request_ids") if isinstance(body, dict) else None
        if not isinstance(ids, list):
            raise UnexpectedSuccessBody(
                f'expected {{"request_ids": [...]}}, got {_describe(text, body)}'
            )
        if len(ids) != record_count:
            raise UnexpectedSuccessBody(
                f"{len(ids)} request ids for {record_count} records (Drip returns one per record)"
            )
        bad = [i for i in ids if isinstance(i, bool) or not isinstance(i, (str, int)) or i == ""]
        if bad:
            raise UnexpectedSuccessBody(f"invalid request ids such as {bad[0]!r}")
        return [str(i) for i in ids]
    raise ValueError(f"unknown success body shape {shape!r}")


def _describe(text: str, body: Any) -> str:
    if not text.strip():
        return "an empty body"
    if body is NOT_JSON:
        return f"a non-JSON body starting {text.strip()[:80]!r}"
    return f"JSON {type(body).__name__} {str(body)[:80]}"
