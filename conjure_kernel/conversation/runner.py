"""Run the async conversation from synchronous code (magics, scripts) on a private loop.

A cell's code runs synchronously inside the kernel's own event loop, where an async
turn cannot be awaited. ``TurnRunner`` keeps one event loop in a daemon thread for the
session (so HTTP connections are reused), runs each turn there, and hands the events
to the calling thread. Ctrl-C arrives in the calling thread as ``KeyboardInterrupt``:
the runner cancels the turn's task, waits for its ``finally`` to repair the history and
kill running tools, and then raises ``TurnInterrupted``.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Future
from typing import TypeVar

from ..errors import TurnInterrupted
from ..events import Event

__all__ = ["TurnRunner"]

T = TypeVar("T")

_DONE = object()
_POLL_SECONDS = 0.1
_CANCEL_GRACE = 15.0
"""Seconds to wait for a cancelled turn to clean up (kill processes) before giving up."""


class TurnRunner:
    """An event loop in a thread that runs async turns for synchronous callers."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="conjure-turns", daemon=True
        )
        self._thread.start()

    def run(self, coroutine: Awaitable[T]) -> T:
        """Run one coroutine to completion and return its result."""
        return asyncio.run_coroutine_threadsafe(_as_coroutine(coroutine), self._loop).result()

    def iterate(self, events: Callable[[], AsyncIterator[Event]]) -> Iterator[Event]:
        """Yield the events of ``events()`` in the calling thread as the loop produces them."""
        inbox: queue.SimpleQueue[object] = queue.SimpleQueue()

        async def pump() -> None:
            try:
                async for event in events():
                    inbox.put(event)
            except BaseException as error:
                inbox.put(error)
                raise
            finally:
                inbox.put(_DONE)

        future = asyncio.run_coroutine_threadsafe(pump(), self._loop)
        try:
            while (item := _next(inbox)) is not _DONE:
                if isinstance(item, asyncio.CancelledError):
                    raise TurnInterrupted("the turn was interrupted")
                if isinstance(item, BaseException):
                    raise item
                yield item  # type: ignore[misc]
        except KeyboardInterrupt:
            self._cancel(future, inbox)
            raise TurnInterrupted(
                "interrupted; running tools were stopped and every pending tool call was "
                "answered as interrupted, so the conversation can go on",
            ) from None
        except GeneratorExit:
            self._cancel(future, inbox)
            raise

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def _cancel(self, future: Future[None], inbox: queue.SimpleQueue[object]) -> None:
        """Cancel the turn's task and wait until its cleanup has run.

        Further Ctrl-C's while it stops are absorbed: returning early would leave a
        ``tool_use`` unanswered in the history (every later request would fail) and
        the turn unsaved. The wait is bounded by ``_CANCEL_GRACE`` all the same.
        """
        deadline = time.monotonic() + _CANCEL_GRACE
        asked = False
        while (left := deadline - time.monotonic()) > 0:
            try:
                if not asked:  # inside the guard: an interrupt may land even here, and
                    # asking twice is harmless (a cancelled future ignores a second cancel)
                    self._loop.call_soon_threadsafe(future.cancel)
                    asked = True
                if inbox.get(timeout=min(left, _POLL_SECONDS)) is _DONE:
                    return
            except (queue.Empty, KeyboardInterrupt):
                continue


def _next(inbox: queue.SimpleQueue[object]) -> object:
    """The next item; waits in short slices so a pending KeyboardInterrupt is raised promptly."""
    while True:
        try:
            return inbox.get(timeout=_POLL_SECONDS)
        except queue.Empty:
            continue


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable
