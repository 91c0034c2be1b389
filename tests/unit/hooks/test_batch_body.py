"""The documented success body of a batch, checked (pure)."""

from __future__ import annotations

import json

import pytest

from airflow_provider_drip.hooks.batch_body import (
    NOT_JSON,
    UnexpectedSuccessBody,
    check_success_body,
)


def check(shape: str, text: str, count: int = 2) -> list[str]:
    try:
        body = json.loads(text)
    except ValueError:
        body = NOT_JSON
    return check_success_body(shape, text, body, count)


@pytest.mark.parametrize(
    ("shape", "text", "expected"),
    [
        ("empty_object", "{}", []),
        ("empty_object", "", []),
        ("empty_object", '{"ok": true}', []),
        ("none", "", []),
        ("none", "  \n", []),
        ("request_ids", '{"request_ids": ["a", "b"]}', ["a", "b"]),
        ("request_ids", '{"request_ids": [1, 2]}', ["1", "2"]),
    ],
)
def test_documented_shapes_are_accepted(shape, text, expected):
    assert check(shape, text) == expected


@pytest.mark.parametrize(
    ("shape", "text", "reason"),
    [
        ("empty_object", "<html>Sign in to the Wi-Fi</html>", "non-JSON"),
        ("empty_object", "[]", "JSON object"),
        ("empty_object", '"ok"', "JSON object"),
        ("empty_object", '{"errors": [{"code": "x"}]}', "carries errors"),
        ("none", "{}", "no body"),
        ("none", "<html></html>", "no body"),
        ("request_ids", "", "empty body"),
        ("request_ids", "{}", "request_ids"),
        ("request_ids", '{"request_ids": "a,b"}', "request_ids"),
        ("request_ids", '{"request_ids": ["a"]}', "1 request ids for 2 records"),
        ("request_ids", '{"request_ids": ["a", "b", "c"]}', "3 request ids for 2 records"),
        ("request_ids", '{"request_ids": ["a", null]}', "invalid request ids"),
        ("request_ids", '{"request_ids": ["a", ""]}', "invalid request ids"),
        ("request_ids", '{"request_ids": [true, "b"]}', "invalid request ids"),
        ("request_ids", '["a", "b"]', "request_ids"),
    ],
)
def test_anything_else_is_refused(shape, text, reason):
    with pytest.raises(UnexpectedSuccessBody, match=reason):
        check(shape, text)


def test_an_empty_body_must_be_declared_empty():
    assert check_success_body("empty_object", "", NOT_JSON, 2, framed=True) == []
    with pytest.raises(UnexpectedSuccessBody, match="ended with the connection"):
        check_success_body("empty_object", "", NOT_JSON, 2, framed=False)
    assert check_success_body("empty_object", "{}", {}, 2, framed=False) == []
