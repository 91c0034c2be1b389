"""A server that echoes credentials cannot carry the token into errors or logs (sync and async).

Every form a server could send back is tried: the full Authorization value, the base64 of
``token:`` (what Basic auth sends), the base64 of ``token`` without the colon (what drip-nodejs
sends), and the raw token, in JSON error bodies, plain-text bodies, 429 messages, status bodies
and redirect targets.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable

import pytest

from airflow_provider_drip.exceptions import DripAPIError, DripError, DripRateLimitError
from airflow_provider_drip.hooks.drip_async import DripAsyncHook
from tests.integration.hook_server import TOKEN, Reply, connection_json

B64_COLON = base64.b64encode(f"{TOKEN}:".encode()).decode()
B64_BARE = base64.b64encode(TOKEN.encode()).decode()
FORMS = [f"Basic {B64_COLON}", B64_COLON, B64_BARE, TOKEN, B64_BARE.rstrip("=")]
ECHO = " | ".join(f"you sent {form}" for form in FORMS)
REC = [{"email": "ann@example.com", "action": "Opened a door"}]

REPLIES: dict[str, Reply] = {
    "json_401": Reply(401, {"errors": [{"code": "authentication_error", "message": ECHO}]}),
    "text_401": Reply(401, ECHO.encode(), {"Content-Type": "text/plain"}),
    "escaped_json": Reply(
        401, b'{"errors":[{"message":"' + B64_COLON.replace("/", "\\/").encode() + b'"}]}'
    ),
    "bare_message": Reply(403, {"message": ECHO}),
    "429": Reply(429, {"message": ECHO}, {"Retry-After": "3600"}),
    "status_body": Reply(200, {"unexpected": ECHO}),
    "redirect": Reply(302, headers={"Location": f"http://localhost:1/{TOKEN}/{B64_COLON}"}),
}


def _assert_clean(*texts: str) -> None:
    for text in texts:
        for form in FORMS:
            assert form not in text, (form, text)


def _texts(err: BaseException) -> list[str]:
    texts = [str(err), repr(err)]
    if isinstance(err, DripAPIError):
        texts += [err.body_text, *(str(e) for e in err.errors), *err.messages]
    if isinstance(err, DripRateLimitError):
        texts.append(err.drip_message)
    return texts


@pytest.fixture
def logs(caplog, capsys) -> Callable[[], str]:
    caplog.set_level(logging.DEBUG)

    def read() -> str:
        out = capsys.readouterr()
        return out.out + out.err + caplog.text

    return read


@pytest.mark.parametrize("case", sorted(REPLIES))
def test_sync_hook_scrubs_echoed_credentials(server, make_hook, logs, case):
    server.script(REPLIES[case])
    hook = make_hook()
    with pytest.raises(DripError) as info:
        if case == "status_body":
            hook.get_request_status("r-1")
        else:
            hook.post_batch("events", REC)  # a batch does not follow the redirect: it reports it
    assert any("***" in text for text in _texts(info.value))
    _assert_clean(*_texts(info.value), logs(), hook.test_connection()[1])


@pytest.mark.parametrize("case", sorted(set(REPLIES) - {"redirect"}))
def test_async_hook_scrubs_echoed_credentials(server, monkeypatch, logs, case):
    monkeypatch.setenv("AIRFLOW_CONN_DRIP_ECHO", connection_json(server.url))
    server.script(REPLIES[case])

    async def main() -> None:
        async with DripAsyncHook("drip_echo") as hook:
            await hook.get_request_status("r-1", max_rate_limit_wait=0)

    with pytest.raises(DripError) as info:
        asyncio.run(main())
    assert any("***" in text for text in _texts(info.value))
    _assert_clean(*_texts(info.value), logs())


def test_scrub_replaces_every_form_and_bearer():
    from airflow_provider_drip.hooks.settings import DripConnectionSettings

    basic = DripConnectionSettings.from_fields("c", "1", TOKEN, None)
    assert basic.scrub(ECHO) == " | ".join("you sent ***" for _ in FORMS)
    bearer = DripConnectionSettings.from_fields("c", "1", TOKEN, None, {"auth_type": "bearer"})
    assert bearer.scrub(f"Authorization: Bearer {TOKEN}") == "Authorization: ***"
    assert basic.scrub("nothing secret") == "nothing secret"
