"""The emulator's HTTP layer: Drip's routes, auth, rate limiting, faults and the control API.

Stdlib ``ThreadingHTTPServer`` speaking HTTP/1.1 keep-alive; every response is written in one
``sendall`` with an exact ``Content-Length`` (Nagle off), request bodies are read to exactly
their ``Content-Length``, decoded (``emulator/body_encoding.py``) and parsed with msgspec. What is
accepted and refused, and why, is documented in docs/emulator.md.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NoReturn
from urllib.parse import parse_qs, unquote, urlsplit

import msgspec

from airflow_provider_drip.emulator.auth import check_authorization
from airflow_provider_drip.emulator.body_encoding import BodyEncodingError, decode_body
from airflow_provider_drip.emulator.config import EmulatorConfig
from airflow_provider_drip.emulator.state import Admission, EmulatorState
from airflow_provider_drip.emulator.validation import error, extract_records, validate_records
from airflow_provider_drip.resources import (
    ACCOUNTS_PATH,
    DEFAULT_REQUEST_STATUS_PATH,
    RESOURCES,
    SUBSCRIBER_PATH,
)

RATE_LIMIT_BODY = {
    "message": "API rate limit exceeded. Please try again in an hour.",
    "documentation": "https://www.getdrip.com/docs/rest-api#rate-limting",
}
NOT_FOUND = {
    "errors": [{"code": "not_found_error", "message": "The resource you requested was not found"}]
}
FORBIDDEN = {
    "errors": [
        {"code": "authorization_error", "message": "You are not authorized to access this resource"}
    ]
}
UNAUTHORIZED = {
    "errors": [
        {
            "code": "authentication_error",
            "message": "You must authenticate with your API token (Basic token: or Bearer token)",
        }
    ]
}
_encode = msgspec.json.Encoder().encode
_encode_sorted = msgspec.json.Encoder(order="sorted").encode
_decode = msgspec.json.Decoder().decode


def _segments(template: str) -> tuple[str, ...]:
    return tuple(template.strip("/").split("/"))


def _match(template: tuple[str, ...], parts: list[str]) -> dict[str, str] | None:
    if len(template) != len(parts):
        return None
    params: dict[str, str] = {}
    for want, got in zip(template, parts, strict=True):
        if want.startswith("{") and want.endswith("}"):
            params[want[1:-1]] = unquote(got)
        elif want != got:
            return None
    return params


_BATCH_ROUTES = [(_segments(r.path_template), r) for r in RESOURCES.values()]
_SUBSCRIBER_ROUTE = _segments(SUBSCRIBER_PATH)
_STATUS_ROUTE = _segments(DEFAULT_REQUEST_STATUS_PATH)
_ACCOUNTS_ROUTE = _segments(ACCOUNTS_PATH)
_ACCOUNT_ROUTE = _segments(ACCOUNTS_PATH + "/{account_id}")


class _Reply(Exception):
    """Raised inside a handler to answer with ``status`` and a JSON ``body``."""

    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


class DripRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "DripEmulator/1.0"
    disable_nagle_algorithm = True
    server: DripHTTPServer

    # ------------------------------------------------------------------ plumbing
    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        payload = b"" if body is None else (body if isinstance(body, bytes) else _encode(body))
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self._headers_buffer.append(b"\r\n" + payload)  # one write: headers and body together
        self.flush_headers()

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            n = int(length)
        except ValueError:
            self.close_connection = True
            bad = {"errors": [error("format_error", "base", "Bad Content-Length")]}
            raise _Reply(400, bad) from None
        if n > self.server.state.config.max_body_bytes:
            self.close_connection = True
            raise _Reply(413, {"errors": [error("length_error", "base", "Body too large")]})
        return self.rfile.read(n)

    def _dispatch(self, method: str) -> None:
        split = urlsplit(self.path)
        parts = split.path.strip("/").split("/")
        state = self.server.state
        try:
            body = self._read_body() if method == "POST" else b""
            if parts and parts[0] == "_emulator":
                self._control(method, parts[1:], body, parse_qs(split.query))
                return
            self._api(method, parts, body, state)
        except _Reply as reply:
            if not (parts and parts[0] == "_emulator"):
                state.note_response(reply.status, getattr(reply, "resource", None))
            self._send(reply.status, reply.body, reply.headers)
        except Exception as err:  # an emulator bug: answer 500 rather than drop the socket
            self.close_connection = True
            bug = {"errors": [{"code": "emulator_error", "message": f"{type(err).__name__}"}]}
            self._send(500, bug)
            raise

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # ------------------------------------------------------------------ Drip API
    def _api(self, method: str, parts: list[str], body: bytes, state: EmulatorState) -> None:
        token = state.config.token
        scheme, ok = check_authorization(self.headers.get("Authorization"), token)
        cfg = state.note_request(self.headers.get("User-Agent"), scheme)
        if cfg.latency:
            time.sleep(cfg.latency)
        if not ok:
            raise _Reply(401, UNAUTHORIZED, {"WWW-Authenticate": 'Basic realm="Drip"'})
        if method == "GET":
            adm = state.admit_read(state.now())
            headers = _rate_headers(adm)
            if not adm.admitted:
                _refuse_over_limit(adm, headers, cfg)
            try:
                self._api_get(parts, cfg, state, headers)
            except _Reply as reply:
                reply.headers = {**headers, **reply.headers}
                raise
            return
        for template, resource in _BATCH_ROUTES:
            params = _match(template, parts)
            if params is None:
                continue
            if params["account_id"] != cfg.account_id:
                raise _Reply(403, FORBIDDEN)
            if method != "POST":
                raise _Reply(405, {"errors": [error("format_error", "base", "Use POST")]})
            self._batch(resource.name, body, state)
            return
        raise _Reply(404, NOT_FOUND)

    def _api_get(
        self, parts: list[str], cfg: EmulatorConfig, state: EmulatorState, headers: dict[str, str]
    ) -> None:
        """Non-batch reads; each counts against the 3,600/hour budget (``read_rate_limit``)."""
        if _match(_ACCOUNTS_ROUTE, parts) is not None:
            accounts = {"links": self._account_links(), "accounts": [self._account(cfg)]}
            self._ok(200, accounts, headers)
            return
        params = _match(_ACCOUNT_ROUTE, parts)
        if params is not None:
            if params["account_id"] != cfg.account_id:
                raise _Reply(404, NOT_FOUND)
            accounts = {"links": self._account_links(), "accounts": [self._account(cfg)]}
            self._ok(200, accounts, headers)
            return
        params = _match(_STATUS_ROUTE, parts)
        if params is not None and cfg.status_endpoint:
            self._check_account(params, cfg)
            result = state.request_status(params["request_id"], state.now())
            if result is None:
                raise _Reply(404, NOT_FOUND)
            self._ok(200, result, headers)
            return
        params = _match(_SUBSCRIBER_ROUTE, parts)
        if params is not None and params["id_or_email"] != "batches":
            self._check_account(params, cfg)
            profile = state.find_subscriber(params["id_or_email"])
            if profile is None:
                raise _Reply(404, NOT_FOUND)
            links = {"subscribers.account": f"{self._base()}/v2/accounts/{{subscribers.account}}"}
            self._ok(200, {"links": links, "subscribers": [profile]}, headers)
            return
        raise _Reply(404, NOT_FOUND)

    def _check_account(self, params: dict[str, str], cfg: EmulatorConfig) -> None:
        if params["account_id"] != cfg.account_id:
            raise _Reply(403, FORBIDDEN)

    def _base(self) -> str:
        return self.server.state.base_url

    def _account_links(self) -> dict[str, str]:
        base = self._base()
        return {
            f"accounts.{name}": f"{base}/v2/{{accounts.id}}/{name}"
            for name in ("broadcasts", "campaigns", "goals")
        }

    def _account(self, cfg: EmulatorConfig) -> dict[str, Any]:
        return {
            "id": cfg.account_id,
            "name": "Drip Emulator",
            "url": "www.example.com",
            "default_from_name": "Drip Emulator",
            "default_from_email": "emulator@example.com",
            "default_postal_address": "123 Anywhere St\nFresno, CA 99999",
            "primary_email": "emulator@example.com",
            "enable_third_party_cookies": False,
            "phone_number": "999-999-9999",
            "created_at": "2013-06-21T10:31:58Z",
            "href": f"{self._base()}/v2/accounts/{cfg.account_id}",
        }

    def _ok(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.server.state.note_response(status)
        self._send(status, body, headers)

    def _batch(self, name: str, raw: bytes, state: EmulatorState) -> None:
        resource = RESOURCES[name]
        adm = state.admit(state.now())
        headers = _rate_headers(adm)
        if not adm.admitted:
            _refuse_over_limit(adm, headers, state.config)
        if adm.fault in ("500", "503"):
            code = int(adm.fault)
            message = "Internal server error" if code == 500 else "Service temporarily unavailable"
            raise _Reply(code, {"errors": [{"code": "server_error", "message": message}]}, headers)
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            problem = error("format_error", "base", "Content-Type must be application/json")
            raise _Reply(415, {"errors": [problem]}, headers)
        encoding = self.headers.get("Content-Encoding")
        state.note_encoding(encoding)
        try:
            raw = decode_body(raw, encoding, state.config.max_body_bytes)
        except BodyEncodingError as err:
            problem = error(err.code, "base", err.message)
            raise _Reply(err.status, {"errors": [problem]}, headers) from None
        try:
            body = _decode(raw)
        except msgspec.DecodeError as err:
            raise _Reply(
                400,
                {"errors": [error("format_error", "base", f"Body is not valid JSON: {err}")]},
                headers,
            ) from None
        records, errors = extract_records(body, resource.records_key, resource.wrapped_in_batches)
        if records is not None:
            errors = validate_records(name, resource.records_key, records)
        if errors:
            reply = _Reply(422, {"errors": errors}, headers)
            reply.resource = name  # type: ignore[attr-defined]
            raise reply
        canonical = [_encode_sorted(r) for r in records]  # type: ignore[union-attr]
        failures = {}
        if resource.returns_request_ids:
            marker = state.config.fail_marker.encode()
            for i, canon in enumerate(canonical):
                if marker and marker in canon:
                    failures[i] = [_failure(records[i], state.config.fail_marker)]  # type: ignore[index]
        request_ids = state.accept(name, records, canonical, failures)  # type: ignore[arg-type]
        if adm.fault == "drop":
            state.note_dropped()
            self.close_connection = True
            return
        if resource.returns_request_ids:
            self._ok(resource.success_status, {"request_ids": request_ids}, headers)
        elif resource.success_status == 204:
            self._ok(204, None, headers)
        else:
            self._ok(resource.success_status, {}, headers)

    # ------------------------------------------------------------------ control API
    def _control(
        self, method: str, parts: list[str], body: bytes, query: dict[str, list[str]]
    ) -> None:
        state = self.server.state
        route = parts[0] if parts else ""
        if route == "stats" and method == "GET":
            self._send(200, state.stats())
        elif route == "reset" and method == "POST":
            keep = query.get("keep_config", ["0"])[0] in ("1", "true")
            state.reset(keep_config=keep)
            self._send(200, {"reset": True, "config": state.config.to_dict()})
        elif route == "clock" and method == "POST":
            try:
                options = _decode(body) if body else {}
                offset = state.advance_clock(float(options.get("advance", 0)))
            except (ValueError, TypeError, AttributeError, msgspec.DecodeError) as err:
                self._send(400, {"errors": [error("format_error", "advance", str(err))]})
                return
            self._send(200, {"offset_seconds": offset})
        elif route == "config" and method == "GET":
            self._send(200, state.config.to_dict())
        elif route == "config" and method == "POST":
            try:
                options = _decode(body) if body else {}
                if not isinstance(options, dict):
                    raise ValueError("config body must be a JSON object")
                cfg = state.configure(options)
            except (ValueError, msgspec.DecodeError) as err:
                self._send(400, {"errors": [error("format_error", "config", str(err))]})
                return
            self._send(200, cfg.to_dict())
        elif route == "records" and method == "GET" and len(parts) == 2:
            if parts[1] not in RESOURCES:
                self._send(404, {"errors": [error("not_found_error", "resource", parts[1])]})
                return
            offset = int(query.get("offset", ["0"])[0])
            limit = int(query["limit"][0]) if "limit" in query else None
            records, total = state.stored_records(parts[1], offset, limit)
            stats = state.resources[parts[1]]
            self._send(
                200,
                b'{"resource":"%s","records_accepted":%d,"stored":%d,"offset":%d,"records":%s}'
                % (parts[1].encode(), stats.records_accepted, total, offset, records),
            )
        else:
            self._send(404, NOT_FOUND)


def _rate_headers(adm: Admission) -> dict[str, str]:
    """Drip's two documented rate-limit headers (none when that budget is off)."""
    if adm.limit is None:
        return {}
    return {"X-RateLimit-Limit": str(adm.limit), "X-RateLimit-Remaining": str(adm.remaining)}


def _refuse_over_limit(adm: Admission, headers: dict[str, str], cfg: EmulatorConfig) -> NoReturn:
    """Drip's 429 ("Please try again in an hour"), with ``Retry-After`` when configured."""
    if cfg.retry_after and adm.retry_after is not None:
        headers["Retry-After"] = str(adm.retry_after)
    raise _Reply(429, RATE_LIMIT_BODY, headers)


def _failure(record: dict[str, Any], marker: str) -> dict[str, str]:
    attribute = next((k for k, v in record.items() if isinstance(v, str) and marker in v), "base")
    return {
        "code": "processing_error",
        "attribute": attribute,
        "message": f"{attribute} was rejected while processing the request",
    }


class DripHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: EmulatorState, verbose: bool = False):
        super().__init__(address, DripRequestHandler)
        self.state = state
        self.verbose = verbose


class DripEmulator:
    """An emulator server; ``start()`` serves in a background thread, ``serve_forever()`` blocks."""

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        verbose: bool = False,
    ) -> None:
        self.config = config or EmulatorConfig()
        self.config.check()
        self.state = EmulatorState(self.config)
        self.httpd = DripHTTPServer((host, port), self.state, verbose)
        bound_host, bound_port = self.httpd.server_address[:2]
        self.url = f"http://{bound_host}:{bound_port}"
        self.state.base_url = self.url
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def start(self) -> DripEmulator:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> DripEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
