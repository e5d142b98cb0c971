"""TurnRunner: async turns for synchronous callers, with errors and interrupts crossing over.

Interrupts are delivered as a real SIGINT aimed at the main thread, which is what a
Jupyter interrupt does. ``_thread.interrupt_main()`` is not used: it only sets Python's
"signal arrived" flag and does not wake a thread blocked in ``SimpleQueue.get()``, so
the KeyboardInterrupt would only surface once the turn produced its next event.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import AsyncIterator, Iterator

import pytest

from conjure_kernel.conversation.runner import TurnRunner
from conjure_kernel.errors import ModelError, TurnInterrupted
from conjure_kernel.events import TextDelta

GUARD = 10.0


@pytest.fixture
def runner() -> Iterator[TurnRunner]:
    runner = TurnRunner()
    yield runner
    runner.close()


class Hanging:
    """A turn that yields one event, then waits until cancelled; records its cleanup."""

    def __init__(self) -> None:
        self.cancelled = threading.Event()
        self.cleaned_up = threading.Event()

    async def events(self) -> AsyncIterator[TextDelta]:
        try:
            yield TextDelta("first")
            await asyncio.sleep(3600)
            yield TextDelta("never")
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        finally:
            self.cleaned_up.set()


def test_iterate_streams_events_to_the_caller_as_they_are_produced(runner):
    """The producer waits for the caller to have seen the first event: batching deadlocks."""
    seen_first = threading.Event()
    producer_threads: set[int] = set()

    async def events() -> AsyncIterator[TextDelta]:
        producer_threads.add(threading.get_ident())
        yield TextDelta("one")
        if not await asyncio.to_thread(seen_first.wait, GUARD):
            raise AssertionError("the caller never received the first event")
        yield TextDelta("two")

    received = []
    for event in runner.iterate(events):
        received.append(event.text)
        seen_first.set()
    assert received == ["one", "two"]
    assert producer_threads and threading.get_ident() not in producer_threads


def test_an_exception_in_the_turn_is_raised_in_the_caller(runner):
    async def events() -> AsyncIterator[TextDelta]:
        yield TextDelta("partial")
        raise ModelError("connection reset", hint="retry")

    received = []
    with pytest.raises(ModelError, match="connection reset") as raised:
        for event in runner.iterate(events):
            received.append(event.text)
    assert received == ["partial"]
    assert raised.value.hint == "retry"


def test_the_runner_serves_turn_after_turn_on_one_loop(runner):
    loops = []

    async def events() -> AsyncIterator[TextDelta]:
        loops.append(asyncio.get_running_loop())
        yield TextDelta("x")

    for _ in range(3):
        assert [e.text for e in runner.iterate(events)] == ["x"]
    assert len(set(map(id, loops))) == 1


def test_run_returns_the_coroutine_result_and_raises_its_error(runner):
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    async def fail() -> None:
        raise ValueError("bad")

    assert runner.run(answer()) == 42
    with pytest.raises(ValueError, match="bad"):
        runner.run(fail())


def test_closing_the_generator_early_cancels_the_turn_and_waits_for_its_cleanup(runner):
    turn = Hanging()
    events = runner.iterate(turn.events)
    assert next(events).text == "first"
    events.close()
    assert turn.cancelled.is_set()
    assert turn.cleaned_up.is_set()


def test_ctrl_c_while_waiting_raises_turn_interrupted_after_the_cleanup(runner):
    assert threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    main = threading.main_thread().ident
    assert main is not None
    turn = Hanging()
    events = runner.iterate(turn.events)
    timer = threading.Timer(0.2, signal.pthread_kill, (main, signal.SIGINT))
    try:
        assert next(events).text == "first"
        timer.start()
        with pytest.raises(TurnInterrupted, match="interrupted"):
            next(events)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert turn.cancelled.is_set()
    assert turn.cleaned_up.is_set()


def test_a_cancelled_turn_is_reported_as_turn_interrupted(runner):
    async def events() -> AsyncIterator[TextDelta]:
        yield TextDelta("first")
        raise asyncio.CancelledError

    with pytest.raises(TurnInterrupted):
        list(runner.iterate(events))


def test_close_stops_the_loop_thread():
    before = set(threading.enumerate())
    runner = TurnRunner()
    [thread] = [t for t in set(threading.enumerate()) - before if t.name == "conjure-turns"]
    assert thread.daemon and thread.is_alive()
    runner.close()
    assert not thread.is_alive()


class SlowToStop(Hanging):
    """A turn whose cleanup takes a while, like a tool that ignores SIGTERM."""

    async def events(self) -> AsyncIterator[TextDelta]:
        try:
            yield TextDelta("first")
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.cancelled.set()
            await asyncio.shield(asyncio.sleep(1.0))  # the kill grace period
            raise
        finally:
            self.cleaned_up.set()


def test_a_second_ctrl_c_during_the_cleanup_waits_for_it_all_the_same(runner):
    """However many interrupts arrive, the caller returns only once the turn has cleaned up."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    main = threading.main_thread().ident
    assert main is not None
    turn = SlowToStop()
    events = runner.iterate(turn.events)
    timers = [threading.Timer(t, signal.pthread_kill, (main, signal.SIGINT)) for t in (0.05, 0.25)]
    late = False
    try:
        assert next(events).text == "first"
        for timer in timers:
            timer.start()
        with pytest.raises(TurnInterrupted):
            next(events)
        cleaned_when_returned = turn.cleaned_up.is_set()
        try:
            timers[1].join(GUARD)
        except KeyboardInterrupt:  # the second ■ came only after the turn had returned
            late = True
    finally:
        for timer in timers:
            timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert not late, "the machine was too slow for the second interrupt to land in the cleanup"
    assert cleaned_when_returned


def test_work_sent_to_the_caller_runs_there_in_order_with_the_events(runner):
    """A kernel reads a permission answer on the thread that runs the cell."""
    seen: list[str] = []

    def answer() -> str:
        on_caller = threading.current_thread() is threading.main_thread()
        seen.append(f"asked on {'the caller' if on_caller else 'another thread'}")
        return "yes"

    async def events() -> AsyncIterator[TextDelta]:
        yield TextDelta("question coming")
        reply = await runner.on_caller_thread(answer)
        yield TextDelta(f"answer: {reply}")

    for event in runner.iterate(events):
        seen.append(event.text)
    assert seen == ["question coming", "asked on the caller", "answer: yes"]


def test_work_that_fails_on_the_caller_raises_in_the_turn(runner):
    def broken() -> str:
        raise OSError("no frontend")

    async def events() -> AsyncIterator[TextDelta]:
        try:
            await runner.on_caller_thread(broken)
        except OSError as error:
            yield TextDelta(f"the turn saw: {error}")

    assert [event.text for event in runner.iterate(events)] == ["the turn saw: no frontend"]


def test_ctrl_c_while_the_caller_works_stops_the_turn_after_its_cleanup(runner):
    """■ pressed while the kernel waits for an answer: the turn's wait ends, its cleanup
    runs, and the caller gets TurnInterrupted."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    main = threading.main_thread().ident
    assert main is not None
    cleaned_up = threading.Event()

    async def events() -> AsyncIterator[TextDelta]:
        try:
            yield TextDelta("asking")
            await runner.on_caller_thread(lambda: threading.Event().wait(GUARD))
            yield TextDelta("never")
        finally:
            cleaned_up.set()

    timer = threading.Timer(0.2, signal.pthread_kill, (main, signal.SIGINT))
    received = []
    try:
        timer.start()
        with pytest.raises(TurnInterrupted):
            for event in runner.iterate(events):
                received.append(event.text)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert received == ["asking"]
    assert cleaned_up.is_set()


def test_work_for_the_caller_needs_a_turn_being_iterated(runner):
    with pytest.raises(RuntimeError, match="no turn is being iterated"):
        runner.run(runner.on_caller_thread(lambda: None))


def test_receive_takes_each_event_on_the_caller_and_what_it_returns_is_yielded(runner):
    async def events() -> AsyncIterator[TextDelta]:
        yield TextDelta("one")
        yield TextDelta("two")

    threads: set[int] = set()

    def receive(event: TextDelta) -> str:
        threads.add(threading.get_ident())
        return event.text.upper()

    assert list(runner.iterate(events, receive=receive)) == ["ONE", "TWO"]
    assert threads == {threading.get_ident()}


def test_events_on_their_way_when_the_turn_stops_are_received_though_not_yielded(runner):
    """A recorder folds every event the turn sent, also those the caller never took."""
    queued = threading.Event()

    async def events() -> AsyncIterator[TextDelta]:
        for text in ("first", "second", "third"):
            yield TextDelta(text)
        queued.set()  # the pump asks for more only once it queued the third
        await asyncio.sleep(3600)

    received: list[str] = []
    turn = runner.iterate(events, receive=lambda event: received.append(event.text) or event)
    assert next(turn).text == "first"
    assert queued.wait(GUARD)
    turn.close()
    assert received == ["first", "second", "third"]


def test_ctrl_c_while_an_event_is_received_waits_until_it_was(runner):
    """■ pressed while the caller folds an event: the fold completes, then the turn stops."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    main = threading.main_thread().ident
    assert main is not None
    turn = Hanging()
    folded: list[str] = []

    def receive(event: TextDelta) -> TextDelta:
        folded.append(f"{event.text} begun")
        signal.pthread_kill(main, signal.SIGINT)  # its handler runs before this returns
        folded.append(f"{event.text} done")
        return event

    try:
        with pytest.raises(TurnInterrupted):
            next(runner.iterate(turn.events, receive=receive))
    finally:
        signal.signal(signal.SIGINT, previous)
    assert folded == ["first begun", "first done"]
    assert turn.cleaned_up.is_set()
