"""A command's output as it arrives, for whoever watches the turn (the trace).

The result a tool returns to the model comes at the end; a person watching a long build
wants the lines now. The tool loop sets a listener for each call (a context variable,
so concurrent calls each have their own), and a workspace hands what its command prints
to ``OutputEcho`` while it reads it. Without a listener nothing is decoded or kept.
"""

from __future__ import annotations

import codecs
import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

__all__ = ["OutputEcho", "listening"]

_listener: ContextVar[Callable[[str], None] | None] = ContextVar(
    "conjure_tool_output", default=None
)


@contextlib.contextmanager
def listening(callback: Callable[[str], None]) -> Iterator[None]:
    """Send the output of commands run in this context (task) to ``callback``."""
    token = _listener.set(callback)
    try:
        yield
    finally:
        _listener.reset(token)


class OutputEcho:
    """Decodes a command's two streams as they arrive and passes the text on.

    Made at the start of a command, in its task's context; ``active`` is False when no
    one listens, so a workspace can skip the work.
    """

    def __init__(self) -> None:
        self._listener = _listener.get()
        self._decoders = {
            stream: codecs.getincrementaldecoder("utf-8")(errors="replace") for stream in (1, 2)
        }

    @property
    def active(self) -> bool:
        return self._listener is not None

    def feed(self, stream: int, data: bytes) -> None:
        """Take bytes of stdout (1) or stderr (2); a character split across calls waits."""
        if self._listener is None:
            return
        text = self._decoders[stream].decode(data)
        if text:
            self._listener(text)
