"""The per-attempt deadline of the sync hook: cuts a late attempt, never a finished one."""

from __future__ import annotations

import socket
import time
from types import SimpleNamespace

from airflow_provider_drip.hooks.watchdog import Deadline


def test_a_due_deadline_cuts_the_attempts_socket():
    ours, theirs = socket.socketpair()
    with ours, theirs, Deadline(0.05) as deadline:
        deadline._attach(SimpleNamespace(sock=ours))  # type: ignore[arg-type]
        ours.settimeout(5)
        started = time.monotonic()
        assert ours.recv(1) == b""  # the blocked read ends when the socket is shut down
        assert time.monotonic() - started < 2
        assert deadline.fired


def test_a_finished_deadline_never_cuts():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        with Deadline(0.05) as deadline:
            deadline._attach(SimpleNamespace(sock=ours))  # type: ignore[arg-type]
        time.sleep(0.2)
        assert not deadline.fired
        theirs.sendall(b"x")
        assert ours.recv(1) == b"x"


def test_deadlines_fire_in_order_whatever_order_they_were_armed():
    late, early = Deadline(0.4), Deadline(0.05)
    socks = [socket.socketpair() for _ in range(2)]
    with late:
        late._attach(SimpleNamespace(sock=socks[0][0]))  # type: ignore[arg-type]
        with early:
            early._attach(SimpleNamespace(sock=socks[1][0]))  # type: ignore[arg-type]
            time.sleep(0.2)
            assert early.fired and not late.fired
        time.sleep(0.4)
        assert late.fired
    for pair in socks:
        for sock in pair:
            sock.close()
