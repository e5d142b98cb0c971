"""What a running call tells the person watching the turn while it runs.

The result a tool returns to the model comes at the end; a person watching a long build
wants its lines now, and wants to hear at once that the sandbox under it was replaced.
The tool loop hands each call a ``CallWatch`` through ``Executor.run``, and a workspace
gets it through ``exec``: what the call prints and the notices its workspace says become
the turn's events, in order with the call's own. It is passed, never looked up, so a
concurrent call cannot speak for another, and code that runs a command without one is
visibly unwatched.
"""

from __future__ import annotations

import codecs
from typing import Protocol, runtime_checkable

__all__ = ["UNWATCHED", "CallWatch", "OutputEcho"]


@runtime_checkable
class CallWatch(Protocol):
    """Where one call's news goes while it runs; told on the event loop's thread (a
    workspace reading a command's output in a thread hands it over to the loop first)."""

    def printed(self, text: str) -> None:
        """Text the call's command wrote (either stream), decoded, as it arrived."""
        ...

    def notice(self, text: str) -> None:
        """Something the person should hear about the place the call ran in (a container
        replaced, a limit reached): a warning in the trace."""
        ...


class _Unwatched:
    """No one watches: printed text and notices go nowhere (a test, an internal command)."""

    def printed(self, text: str) -> None:
        return None

    def notice(self, text: str) -> None:
        return None


UNWATCHED: CallWatch = _Unwatched()


class OutputEcho:
    """Decodes a command's two streams as they arrive and passes the text to its watch."""

    def __init__(self, watch: CallWatch = UNWATCHED) -> None:
        self._watch = watch
        self._decoders = {
            stream: codecs.getincrementaldecoder("utf-8")(errors="replace") for stream in (1, 2)
        }

    @property
    def active(self) -> bool:
        """False when no one watches, so a workspace can skip the decoding."""
        return self._watch is not UNWATCHED

    def feed(self, stream: int, data: bytes) -> None:
        """Take bytes of stdout (1) or stderr (2); a character split across calls waits."""
        if self._watch is UNWATCHED:
            return
        text = self._decoders[stream].decode(data)
        if text:
            self._watch.printed(text)
