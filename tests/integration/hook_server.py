"""A small scriptable HTTP/1.1 server on 127.0.0.1 for the hook's integration tests.

The full Drip emulator models Drip; this one does what an emulator should not: answer exactly
what a test scripts (any status, headers, body, a delay, or dropping the connection after reading
the request) and capture every raw request (request line, header lines in order, body, client
port), so tests can check bytes on the wire and count how many requests arrived.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer. ``drop`` closes the socket after reading the request, unanswered."""

    status: int = 200
    body: Any = None
    """bytes are sent as is; anything else (dict, list) as JSON; None sends no body."""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False
    close: bool = False
    """Send ``Connection: close`` and close after answering."""
    trickle: float = 0.0
    """Send the body one byte at a time, this many seconds apart (a slow-drip server)."""
    unframed: bool = False
    """Send no Content-Length and end the body by closing the connection."""
    trickle_head: float = 0.0
    """Send the status line and headers one byte at a time, this many seconds apart."""


@dataclass
class Captured:
    method: str
    path: str
    request_line: str
    header_lines: list[tuple[str, str]]
    body: bytes
    client_port: int
    received_at: float
    idle_dropped: bool = False

    def header(self, name: str) -> str | None:
        for key, value in self.header_lines:
            if key.lower() == name.lower():
                return value
        return None

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def raw_head(self) -> str:
        lines = [self.request_line, *(f"{k}: {v}" for k, v in self.header_lines)]
        return "\r\n".join(lines)


Responder = Callable[[Captured], Reply]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HookTestServer

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    _last_done: float | None = None

    def _handle(self) -> None:
        idle_limit = self.server.idle_drop_after
        idle = None if self._last_done is None else time.monotonic() - self._last_done
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        captured = Captured(
            method=self.command,
            path=self.path,
            request_line=self.requestline,
            header_lines=list(self.headers.items()),
            body=body,
            client_port=self.client_address[1],
            received_at=time.monotonic(),
        )
        if idle_limit is not None and idle is not None and idle > idle_limit:
            # Like a server whose keep-alive timer fired just as the request arrived: the
            # request was read, and the connection closes without an answer.
            captured.idle_dropped = True
            self.server.record_only(captured)
            reply = Reply(drop=True)
        else:
            reply = self.server.record(captured)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if isinstance(reply.body, bytes):
            payload = reply.body
        elif reply.body is None:
            payload = b""
        else:
            payload = json.dumps(reply.body).encode()
        if reply.trickle_head:
            self._trickle_head(reply, payload)
            return
        self.send_response(reply.status)
        headers = {k.lower(): (k, v) for k, v in reply.headers.items()}
        if payload and "content-type" not in headers:
            self.send_header("Content-Type", "application/json")
        for key, value in headers.values():
            self.send_header(key, value)
        if reply.status != 204 and reply.status >= 200 and not reply.unframed:
            self.send_header("Content-Length", str(len(payload)))
        if reply.close or reply.unframed:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if payload and reply.status != 204:
            if reply.trickle:
                try:
                    for i in range(len(payload)):
                        self.wfile.write(payload[i : i + 1])
                        self.wfile.flush()
                        time.sleep(reply.trickle)
                except OSError:  # the client gave up
                    self.close_connection = True
                    return
            else:
                self.wfile.write(payload)
        self.wfile.flush()
        self._last_done = time.monotonic()

    def _trickle_head(self, reply: Reply, payload: bytes) -> None:
        head = (
            f"HTTP/1.1 {reply.status} X\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        ).encode()
        try:
            for i in range(len(head)):
                self.wfile.write(head[i : i + 1])
                self.wfile.flush()
                time.sleep(reply.trickle_head)
            self.wfile.write(payload)
            self.wfile.flush()
        except OSError:  # the client gave up
            pass
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = _handle


class HookTestServer(ThreadingHTTPServer):
    """Answers scripted replies in order, then ``default`` (or ``responder``) for the rest."""

    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[Captured] = []
        self.default = Reply(200, {})
        self.responder: Responder | None = None
        self.idle_drop_after: float | None = None
        """Drop (unanswered) a request arriving on a keep-alive connection idle this long."""
        self._script: list[Reply] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    def record(self, captured: Captured) -> Reply:
        with self._lock:
            self.requests.append(captured)
            if self._script:
                return self._script.pop(0)
        if self.responder is not None:
            return self.responder(captured)
        return self.default

    def record_only(self, captured: Captured) -> None:
        with self._lock:
            self.requests.append(captured)

    def start(self) -> HookTestServer:
        self._thread = threading.Thread(target=self.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


TOKEN = "tok_Sx9q2LmP4vR7wZ1k"
"""A recognisable fake API token: tests assert it never shows up in logs or errors."""
ACCOUNT_ID = "9876543"


def connection_json(
    url: str, *, login: str = ACCOUNT_ID, password: str = TOKEN, **extra: Any
) -> str:
    """An ``AIRFLOW_CONN_*`` value, so ``BaseHook.get_connection`` works without a database."""
    return json.dumps(
        {"conn_type": "drip", "login": login, "password": password, "host": url, "extra": extra}
    )
