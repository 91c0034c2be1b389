"""A 2xx to a batch is an acceptance only with the documented body (issue 14 #8).

Anything else is an error that is not an acceptance: ambiguous for resources that are not
idempotent (Drip may have recorded the batch), "not accepted" for the idempotent ones.
"""

from __future__ import annotations

import pytest

from airflow_provider_drip.exceptions import (
    DripAmbiguousOutcomeError,
    DripUnexpectedResponseError,
)
from tests.integration.hook_server import Reply

FIVE = [{"email": f"u{i}@example.com", "action": "x"} for i in range(5)]
HTML = b"<html><body>Please sign in</body></html>"

BAD_V3 = {
    "html": Reply(200, HTML, {"Content-Type": "text/html"}),
    "three_ids_for_five": Reply(202, {"request_ids": ["a", "b", "c"]}),
    "null_ids": Reply(202, {"request_ids": [None, "b", "c", "d", "e"]}),
    "ids_not_a_list": Reply(202, {"request_ids": "a,b,c,d,e"}),
    "no_ids": Reply(202, {}),
    "empty": Reply(202, b""),
}


@pytest.mark.parametrize("case", sorted(BAD_V3))
@pytest.mark.parametrize("resource", ["cart", "order", "product"])
def test_v3_unexpected_success_body_is_ambiguous(server, make_hook, resource, case):
    server.script(BAD_V3[case])
    with pytest.raises(DripAmbiguousOutcomeError) as info:
        make_hook().post_batch(resource, FIVE)
    assert (info.value.resource, info.value.record_count) == (resource, 5)
    assert "documented success body" in info.value.cause
    assert len(server.requests) == 1  # never resent


@pytest.mark.parametrize(
    "reply",
    [Reply(200, HTML, {"Content-Type": "text/html"}), Reply(201, [1, 2]), Reply(201, "ok")],
)
def test_events_unexpected_success_body_is_ambiguous(server, make_hook, reply):
    server.script(reply)
    with pytest.raises(DripAmbiguousOutcomeError):
        make_hook().post_batch("events", FIVE)


@pytest.mark.parametrize(
    ("resource", "reply"),
    [
        ("subscribers", Reply(200, HTML, {"Content-Type": "text/html"})),
        ("orders", Reply(202, {"errors": [{"code": "x", "message": "quota"}]})),
        ("unsubscribes", Reply(200, HTML, {"Content-Type": "text/html"})),
        ("unsubscribes", Reply(200, {})),
    ],
)
def test_idempotent_unexpected_success_body_is_not_accepted(server, make_hook, resource, reply):
    server.script(reply)
    with pytest.raises(DripUnexpectedResponseError) as info:
        make_hook().post_batch(resource, FIVE)
    err = info.value
    assert err.status == reply.status
    assert "not counted as accepted" in str(err)
    assert len(server.requests) == 1


def test_documented_bodies_with_another_2xx_are_accepted(server, make_hook, capsys):
    server.script(Reply(200, {"request_ids": list("abcde")}), Reply(200, b""))
    hook = make_hook()
    assert hook.post_batch("order", FIVE).request_ids == list("abcde")
    assert hook.post_batch("subscribers", FIVE).status == 200  # empty body tolerated for {}
    assert capsys.readouterr().out.count("expected 20") == 2


def test_an_empty_body_cut_by_the_connection_is_not_an_acceptance(server, make_hook):
    server.script(Reply(201, b"", unframed=True), Reply(201, b"", unframed=True))
    hook = make_hook()
    with pytest.raises(DripAmbiguousOutcomeError, match="ended with the connection"):
        hook.post_batch("events", FIVE)
    with pytest.raises(DripUnexpectedResponseError, match="ended with the connection"):
        hook.post_batch("subscribers", FIVE)


def test_an_unframed_documented_body_is_accepted(server, make_hook):
    server.script(Reply(201, {}, unframed=True))
    assert make_hook().post_batch("events", FIVE).status == 201
