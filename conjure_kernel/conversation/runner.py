"""Run the async conversation from synchronous code (magics, scripts) on a private loop.

A cell's code runs synchronously inside the kernel's own event loop, where an async
turn cannot be awaited. ``TurnRunner`` keeps one event loop in a daemon thread for the
session (so HTTP connections are reused), runs each turn there, and hands the events
to the calling thread. Ctrl-C arrives in the calling thread as ``KeyboardInterrupt``:
the runner cancels the turn's task, waits for its ``finally`` to repair the messages and
kill running tools, and then raises ``TurnInterrupted``.

The calling thread also folds each event into the turn's record (``receive``), so what
its views read is written on their thread alone. An event must reach the record once,
however the turn stops: Ctrl-C is held back while an event is taken from the queue and
folded, and raised right after; events still on their way when a turn is stopped are
folded too, though no caller sees them.

Some work of a turn belongs on the calling thread: a kernel reads the person's answer
to a permission question there (``input()`` talks to the frontend from the thread that
runs the cell). ``on_caller_thread`` sends such work through the same queue as the
events, so it runs in order with them, and an interrupt while it waits stops the turn
like any other.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import signal
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from ..errors import TurnInterrupted
from ..events import Event

__all__ = ["TurnRunner", "interrupts_held"]

T = TypeVar("T")

_DONE = object()
_POLL_SECONDS = 0.1
"""How long the calling thread waits for an item at a time: a Ctrl-C held meanwhile is
raised after at most this. The queue is a ``queue.Queue``: ``SimpleQueue.get`` with a
timeout waits for good once a signal handler that does not raise ran during the wait
(CPython 3.11), and holding Ctrl-C is such a handler."""
_CANCEL_GRACE = 15.0
"""Seconds to wait for a cancelled turn to clean up (kill processes) before giving up."""


@dataclass(frozen=True)
class _CallerWork:
    """A function the turn wants run on the calling thread, and where its result goes."""

    function: Callable[[], Any]
    result: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop

    def run(self) -> None:
        """Run it here; its result or exception goes back to the turn. An interrupt cancels
        the turn's wait and goes on up, to stop the turn."""
        try:
            value = self.function()
        except Exception as error:
            self.loop.call_soon_threadsafe(_settle, self.result, None, error)
        except BaseException:
            self.cancel()
            raise
        else:
            self.loop.call_soon_threadsafe(_settle, self.result, value, None)

    def cancel(self) -> None:
        self.loop.call_soon_threadsafe(self.result.cancel)


class TurnRunner:
    """An event loop in a thread that runs async turns for synchronous callers."""

    def __init__(self) -> None:
        self._inbox: queue.Queue[object] | None = None
        """The queue of the turn being iterated, while one is."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="conjure-turns", daemon=True
        )
        self._thread.start()

    def run(self, coroutine: Awaitable[T]) -> T:
        """Run one coroutine to completion and return its result."""
        return asyncio.run_coroutine_threadsafe(_as_coroutine(coroutine), self._loop).result()

    @overload
    def iterate(
        self,
        events: Callable[[], AsyncIterator[Event]],
        *,
        idle: Callable[[], None] | None = None,
    ) -> Iterator[Event]: ...

    @overload
    def iterate(
        self,
        events: Callable[[], AsyncIterator[Event]],
        *,
        idle: Callable[[], None] | None = None,
        receive: Callable[[Event], T],
    ) -> Iterator[T]: ...

    def iterate(
        self,
        events: Callable[[], AsyncIterator[Event]],
        *,
        idle: Callable[[], None] | None = None,
        receive: Callable[[Event], Any] | None = None,
    ) -> Iterator[Any]:
        """Yield the events of ``events()`` in the calling thread as the loop produces them.

        ``idle`` is called on the calling thread each time no event came for a short while
        (a view that waits to draw a turn that ends at once, until it runs a little longer).
        ``receive`` is called there with each event as it is taken, Ctrl-C held back until
        it returned, and what it returns is yielded in the event's place; events the turn
        sent before it was stopped reach it too, so it gets every event once (a recorder
        folds them).
        """
        inbox: queue.Queue[object] = queue.Queue()
        taking = _Taking(inbox, receive)

        async def pump() -> None:
            try:
                async for event in events():
                    inbox.put(event)
            except BaseException as error:
                inbox.put(error)
                raise
            finally:
                inbox.put(_DONE)

        self._inbox = inbox
        future = asyncio.run_coroutine_threadsafe(pump(), self._loop)
        try:
            while (item := taking.next(idle)) is not _DONE:
                if isinstance(item, _CallerWork):
                    item.run()
                    continue
                if isinstance(item, asyncio.CancelledError):
                    raise TurnInterrupted("the turn was interrupted")
                if isinstance(item, BaseException):
                    raise item
                yield item
        except KeyboardInterrupt:
            self._cancel(future, taking)
            raise TurnInterrupted(
                "interrupted; running tools were stopped and every pending tool call was "
                "answered as interrupted, so the conversation can go on",
            ) from None
        except GeneratorExit:
            self._cancel(future, taking)
            raise
        finally:
            self._inbox = None

    async def on_caller_thread(self, function: Callable[[], T]) -> T:
        """Run ``function`` on the thread iterating the current turn, and return its result.

        Called from the turn (on the runner's loop); ``RuntimeError`` when no caller
        iterates one, since no thread would ever run it.
        """
        inbox = self._inbox
        if inbox is None:
            raise RuntimeError("no turn is being iterated, so there is no caller thread")
        loop = asyncio.get_running_loop()
        result: asyncio.Future[T] = loop.create_future()
        inbox.put(_CallerWork(function, result, loop))
        return await result

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def _cancel(self, future: Future[None], taking: _Taking) -> None:
        """Cancel the turn's task and wait until its cleanup has run, receiving the events
        it sent meanwhile.

        Further Ctrl-C's while it stops are absorbed: returning early would leave a
        ``tool_use`` unanswered in the messages (every later request would fail) and
        the turn unsaved. The wait is bounded by ``_CANCEL_GRACE`` all the same.
        """
        with interrupts_held():
            deadline = time.monotonic() + _CANCEL_GRACE
            asked = False
            while (left := deadline - time.monotonic()) > 0:
                try:
                    if not asked:  # asking twice is harmless: a cancelled future ignores it
                        self._loop.call_soon_threadsafe(future.cancel)
                        asked = True
                    item = taking.take(min(left, _POLL_SECONDS))
                    if item is _DONE:
                        return
                    if isinstance(item, _CallerWork):  # the turn is stopping: nothing more runs
                        item.cancel()
                except (queue.Empty, KeyboardInterrupt):  # off the main thread, Ctrl-C raises
                    continue


class _Taking:
    """The calling thread's end of a turn's queue: each event received as it is taken."""

    def __init__(self, inbox: queue.Queue[object], receive: Callable[[Event], Any] | None) -> None:
        self._inbox = inbox
        self._receive = receive

    def next(self, idle: Callable[[], None] | None) -> object:
        """The next item; waits in short slices, calling ``idle`` after each empty one.

        Ctrl-C is held back while an item is taken and raised after it, within a slice:
        work of the turn is cancelled first (the turn stops waiting for it), an event
        was received already; after the turn's end or error, which stop it anyway, it
        is dropped.
        """
        while True:
            with interrupts_held() as pressed:
                try:
                    item = self.take(_POLL_SECONDS)
                except queue.Empty:
                    item = None
            if pressed and not (item is _DONE or isinstance(item, BaseException)):
                if isinstance(item, _CallerWork):
                    item.cancel()
                raise KeyboardInterrupt
            if item is not None:
                return item
            if idle is not None:
                idle()

    def take(self, timeout: float) -> object:
        """The next item within ``timeout`` seconds (else ``queue.Empty``), an event as
        ``receive`` returned it."""
        item = self._inbox.get(timeout=timeout)
        if self._receive is None or item is _DONE or isinstance(item, _CallerWork | BaseException):
            return item
        return self._receive(item)  # type: ignore[arg-type]


@contextlib.contextmanager
def interrupts_held() -> Iterator[list[bool]]:
    """Hold off Ctrl-C while the block runs, when on the main thread; the list it gives
    holds ``True`` once one came (the caller decides whether to raise it).

    A ``KeyboardInterrupt`` can be raised between any two bytecodes, also outside every
    ``try`` that would absorb it; a handler that only takes note leaves no such gap. The
    previous handler comes back afterwards, so later interrupts act as before.
    """
    pressed: list[bool] = []
    if threading.current_thread() is not threading.main_thread():
        yield pressed
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(True))
    try:
        yield pressed
    finally:
        signal.signal(signal.SIGINT, previous)


def _settle(result: asyncio.Future[Any], value: Any, error: Exception | None) -> None:
    """Give the turn its answer, unless it stopped waiting meanwhile."""
    if result.done():
        return
    if error is not None:
        result.set_exception(error)
    else:
        result.set_result(value)


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable
