"""An overall deadline for one ``requests`` exchange, headers and body alike.

The read timeout bounds each wait for a byte, not the whole answer, so a server (or a proxy)
trickling its status line, headers or body a byte at a time could hold a request, and the
worker, indefinitely. The sync hook arms a :class:`Deadline` around each attempt; if it fires
while the attempt is still reading, it shuts the attempt's socket down, the blocked read ends,
and the hook reports :class:`~.failures.DeadlineExceeded` (the request was sent: an ambiguous
outcome for resources that are not idempotent).

To find the socket, the adapter's pools use connection classes that note themselves in the
calling thread's current :class:`Deadline` when a request starts on them. One watchdog thread
per process serves every deadline: a ``threading.Timer`` per request would start a thread per
request (~0.6 ms each, a tenth of a 1,000-record batch against the local emulator).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_current = threading.local()


class Deadline:
    """Cuts the connection of the attempt it guards once ``seconds`` have passed.

    Use as a context manager around the whole exchange (request and body read); call
    :meth:`finish` as soon as the answer is read, so a late timer never touches a connection
    that went back to the pool.
    """

    def __init__(self, seconds: float) -> None:
        self._seconds = max(0.0, seconds)
        self._lock = threading.Lock()
        self._conn: HTTPConnection | None = None
        self._done = False
        self.fired = False

    def __enter__(self) -> Deadline:
        _current.deadline = self
        _watchdog.arm(time.monotonic() + self._seconds, self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.finish()
        _current.deadline = None

    def finish(self) -> None:
        """The attempt is over: the watchdog will drop this deadline when it comes due."""
        with self._lock:
            self._done = True

    def _attach(self, conn: HTTPConnection) -> None:
        with self._lock:
            self._conn = conn

    def _cut(self) -> None:
        with self._lock:
            if self._done or self._conn is None:
                return
            self.fired = True
            sock = getattr(self._conn, "sock", None)
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


class _Watchdog:
    """One daemon thread cutting the attempts whose deadline passed, earliest first.

    Arming costs a heap push; the thread is only woken when a new deadline comes before every
    pending one (rare: deadlines are "now + the same timeout"). Finished deadlines stay in the
    heap until they come due and are then dropped.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, when: float, deadline: Deadline) -> None:
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="drip-deadline-watchdog", daemon=True
                )
                self._thread.start()
            earliest = self._heap[0][0] if self._heap else None
            heapq.heappush(self._heap, (when, next(self._order), deadline))
            if earliest is None or when < earliest:
                self._cond.notify()

    def _run(self) -> None:
        with self._cond:
            while True:
                if not self._heap:
                    self._cond.wait()
                    continue
                delay = self._heap[0][0] - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                heapq.heappop(self._heap)[2]._cut()


_watchdog = _Watchdog()


def _after_fork_in_child() -> None:
    """A forked worker has no watchdog thread (and maybe a lock held by the parent's)."""
    global _watchdog
    _watchdog = _Watchdog()


os.register_at_fork(after_in_child=_after_fork_in_child)


class _Watched:
    """Mixin: a connection that tells the thread's current Deadline it carries the request."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        deadline = getattr(_current, "deadline", None)
        if deadline is not None:
            deadline._attach(self)  # type: ignore[arg-type]
        return super().request(*args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections (direct or through an HTTP proxy) a Deadline can cut."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS managers bring their own pools
            manager.pool_classes_by_scheme = dict(_POOLS)
        return manager
