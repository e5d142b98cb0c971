"""Waits inside a response: silent, or kept alive with ``ping`` events; never past the client.

Split from server.py: a wait that outlived the client that asked for it (the client timed
out and hung up) or the server itself (the test ended) would leave a thread behind, so
every wait watches both.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Pause", "wait"]

_POLL = 0.05
"""Seconds between two looks at the client's socket and the server's stop flag."""


@dataclass(frozen=True)
class Pause:
    """A wait between two events of a stream: silent, or kept alive with pings."""

    seconds: float
    pings: bool


def wait(
    connection: socket.socket,
    seconds: float,
    *,
    stopped: threading.Event,
    ping: Callable[[], None] | None = None,
    interval: float = float("inf"),
) -> None:
    """Let ``seconds`` pass (``inf``: until the client goes), calling ``ping`` every
    ``interval`` seconds meanwhile if given.

    Raises ``ConnectionResetError`` once the client hangs up or ``stopped`` is set, which
    ends the request as a client that went away does.
    """
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if _hung_up(connection, min(left, interval) if ping else left, stopped):
            raise ConnectionResetError("the client hung up while the server kept it waiting")
        if ping is not None and deadline > time.monotonic():
            ping()


def _hung_up(connection: socket.socket, seconds: float, stopped: threading.Event) -> bool:
    """Wait up to ``seconds``; whether the client closed its end, or the server stopped."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        if stopped.is_set():
            return True
        readable, _, _ = select.select([connection], [], [], min(left, _POLL))
        if not readable:
            continue
        try:
            if not connection.recv(1, socket.MSG_PEEK):
                return True
        except OSError:
            return True
        time.sleep(min(left, _POLL))  # the client sent more: not a hang-up
    return False
