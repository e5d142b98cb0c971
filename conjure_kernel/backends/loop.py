"""The client-side tool-use loop that the local, native and docker backends share.

The algorithm, in order:

1. send the messages to the model and stream its answer;
2. if the answer does not stop for ``tool_use``, the turn ends;
3. ask the gate about each call, in order (a question waits for the person's answer), then
   run the allowed calls concurrently; a denied call is never started, and its result is
   the denial, as an error the model reads;
4. append one user message holding one ``tool_result`` per ``tool_use`` (a step that
   stopped for another reason, such as ``max_tokens``, gets each call answered as
   "not run" instead);
5. stop with ``TurnLimitReached`` after ``max_iterations`` model calls; else repeat.

Invariant: the messages never hold a ``tool_use`` without its ``tool_result``. When the
turn is cancelled (an interrupt) or fails, the ``finally`` answers every call of the last
step: with its result if it finished, else with an "interrupted" error result, so the
next turn sends a valid conversation. If the model never answered, the turn's user
message is taken back out, leaving the messages as they were.

On replay, a call that had not finished when recorded is not started again: the model
gets the replay's ``UNFINISHED`` text as its error result.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..clients.base import (
    ContextEdited,
    ModelClient,
    ModelRequest,
    ModelResponse,
    RetryWait,
    StreamItem,
    TextChunk,
    ThinkingChunk,
    Usage,
)
from ..clients.replay import Replay
from ..clients.server_tools import SERVER_CALLS
from ..errors import IncompleteResponse, TurnLimitReached
from ..events import (
    ApprovalAnswered,
    ApprovalAsked,
    Event,
    ModelStepFinished,
    Notice,
    TextDelta,
    ThinkingDelta,
    ToolCallFinished,
    ToolCallStarted,
    ToolOutput,
    TurnEnded,
    UsageReported,
)
from ..tools.decisions import Decided, decided
from ..tools.executor import Executor
from ..tools.printed_limits import LIVE_CHARS
from ..tools.values import ToolCall, ToolResult
from .gate import Gate

if TYPE_CHECKING:
    from anthropic.types import MessageParam

__all__ = [
    "INTERRUPTED",
    "Steps",
    "answer",
    "answer_calls",
    "drop_unanswered_server_calls",
    "not_run",
    "progress_event",
    "repair_messages",
    "run_tool_loop",
]

INTERRUPTED = "interrupted by the user before this tool call finished"


async def run_tool_loop(
    message: str | list[dict[str, Any]],
    client: ModelClient,
    executor: Executor,
    *,
    system: str,
    model: str,
    messages: list[MessageParam],
    max_iterations: int = 25,
    max_tokens: int = 16000,
    replay: Replay | None = None,
    gate: Gate | None = None,
) -> AsyncIterator[Event]:
    """Run one user turn to its end, yielding events; ``messages`` grows in place.

    Under a ``replay``, a call unfinished when recorded is not run. Without a ``gate``
    every call runs.
    """
    unfinished = replay.unfinished() if replay is not None else {}
    turn_start = len(messages)
    messages.append({"role": "user", "content": message})
    steps = Steps(client, messages)
    results: dict[str, ToolResult] = {}
    try:
        for _ in range(max_iterations):
            request = ModelRequest(model, system, list(messages), executor.tools, max_tokens)
            async for event in steps.stream(request):
                yield event
            response = steps.last
            calls = [
                ToolCall(b["id"], b["name"], b.get("input") or {}) for b in response.tool_uses()
            ]
            if response.stop_reason != "tool_use" or not calls:
                results = {call.id: not_run(call, response.stop_reason) for call in calls}
                for call in calls:  # shown and answered as what happened: never run
                    yield ToolCallStarted(call)
                    yield ToolCallFinished(call, results[call.id])
                yield TurnEnded(response.stop_reason, response.text(), steps.usage)
                return
            results = {}
            async for event in answer_calls(calls, executor, gate, unfinished, results):
                yield event
            messages.append(
                {"role": "user", "content": [results[c.id].to_param() for c in calls]}  # type: ignore[misc]
            )
        raise TurnLimitReached(
            f"the model was still calling tools after {max_iterations} steps, so the turn was stopped",
            hint="raise the max_iterations setting (model calls allowed per turn), or ask for a smaller step",
        )
    finally:
        repair_messages(messages, turn_start, results)


def progress_event(item: StreamItem) -> Event | None:
    """The event for a stream item that shows the step's progress (text, thinking, a
    wait, a context edit) in either tool loop; None for the items each loop handles."""
    if isinstance(item, TextChunk):
        return TextDelta(item.text)
    if isinstance(item, ThinkingChunk):
        return ThinkingDelta(item.text)
    if isinstance(item, RetryWait):  # a quiet turn must say why
        return Notice(item.describe(), "warning")
    if isinstance(item, ContextEdited):
        return Notice(item.describe())
    return None


class Steps:
    """The model steps of one turn, as both tool loops (this one and the hosted one) take
    them: each request streamed as events, its answer added to the messages, its usage
    to the turn's, then ``ModelStepFinished`` and ``UsageReported``."""

    def __init__(self, client: ModelClient, messages: list[MessageParam]) -> None:
        self.client = client
        self.messages = messages
        self.usage = Usage()
        self.count = 0
        self._last: ModelResponse | None = None

    @property
    def last(self) -> ModelResponse:
        """The answer of the step streamed last (there is one once ``stream`` ended)."""
        assert self._last is not None, "no step has been streamed yet"
        return self._last

    async def stream(
        self,
        request: ModelRequest,
        event_of: Callable[[StreamItem], Event | None] = progress_event,
    ) -> AsyncIterator[Event]:
        """Send ``request`` and yield what ``event_of`` makes of each stream item (by
        default the progress every step shows), then the step's end."""
        response: ModelResponse | None = None
        async for item in self.client.stream(request):
            if isinstance(item, ModelResponse):
                response = item
            elif (event := event_of(item)) is not None:
                yield event
        if response is None:
            raise IncompleteResponse("the model client ended without a final message")
        self.messages.append(response.message)  # type: ignore[arg-type]
        self.usage = self.usage + response.usage
        self.count += 1
        self._last = response
        yield ModelStepFinished(self.count, response)
        yield UsageReported(self.usage)


async def answer_calls(
    calls: Sequence[ToolCall],
    executor: Executor,
    gate: Gate | None,
    unfinished: Mapping[str, str],
    results: dict[str, ToolResult],
) -> AsyncIterator[Event]:
    """Answer one step's client-side calls into ``results``, yielding what happens: a call
    unfinished when recorded gets the replay's text, the gate settles each of the rest
    in order, and the allowed ones run at once. Both tool loops answer a step this way
    (the hosted one when a hybrid session offers client tools beside code execution)."""
    results.update(
        {c.id: ToolResult(c.id, unfinished[c.id], True) for c in calls if c.id in unfinished}
    )
    decided_by: dict[str, Decided] = {}
    if gate is not None:
        async for event in _decide(gate, calls, results, decided_by):
            yield event
    async for event in _run_calls(executor, calls, results, decided_by):
        yield event


async def _decide(
    gate: Gate,
    calls: Sequence[ToolCall],
    results: dict[str, ToolResult],
    decided_by: dict[str, Decided],
) -> AsyncIterator[Event]:
    """Settle each call the gate denies, in the model's order, asking one question at a time;
    note in ``decided_by`` what an allowed call's decision fixed (where its path led, a new shell).

    A denial goes into ``results`` as soon as it is made, so an interrupt during a later
    question still answers it as denied rather than interrupted.
    """
    for call in calls:
        if call.id in results:
            continue
        verdict = gate.check(call)
        if verdict.allowed is None:
            yield ApprovalAsked(call, verdict.prompt)
            verdict = await gate.ask(call, verdict)
        if verdict.shown:
            yield ApprovalAnswered(call, bool(verdict.allowed), verdict.reason)
        if not verdict.allowed:
            results[call.id] = ToolResult(call.id, verdict.message or "denied", True)
        elif verdict.pinned is not None or verdict.fresh_shell:
            decided_by[call.id] = Decided(verdict.pinned, verdict.fresh_shell)


async def _run_calls(
    executor: Executor,
    calls: Sequence[ToolCall],
    results: dict[str, ToolResult],
    decided_by: Mapping[str, Decided],
) -> AsyncIterator[Event]:
    """Start every call not settled already at once and report each as it finishes, with
    what its watch heard meanwhile (its printing, notices); cancel the rest on exit. A
    settled call (denied, or unfinished when recorded) finishes at once."""
    known = {tool["name"] for tool in executor.tools}
    settled = dict(results)
    for call in calls:
        yield ToolCallStarted(call)
    for call in calls:
        if call.id in settled:
            yield ToolCallFinished(call, settled[call.id])
    pending = [call for call in calls if call.id not in settled]
    heard: asyncio.Queue[ToolOutput | Notice] = asyncio.Queue()
    running = {
        asyncio.ensure_future(
            _run_one(
                executor,
                call,
                known,
                _Watch(call.id, heard.put_nowait),
                decided_by.get(call.id, Decided()),
            )
        )
        for call in pending
    }
    finished: list[asyncio.Future[tuple[ToolCall, ToolResult]]] = []
    for task in running:
        task.add_done_callback(finished.append)  # in the order they finish
    next_news: asyncio.Future[ToolOutput | Notice] | None = None
    try:
        while running or finished:
            if not finished:
                next_news = next_news or asyncio.ensure_future(heard.get())
                await asyncio.wait([*running, next_news], return_when=asyncio.FIRST_COMPLETED)
                if next_news.done():
                    yield next_news.result()
                    next_news = None
                continue
            while not heard.empty():  # what a call's watch heard comes before its end
                yield heard.get_nowait()
            task = finished.pop(0)
            running.discard(task)
            call, result = task.result()
            results[call.id] = result
            yield ToolCallFinished(call, result)
    finally:
        for task in [*running, *([next_news] if next_news else [])]:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)


async def _run_one(
    executor: Executor,
    call: ToolCall,
    known: set[str],
    watch: _Watch,
    decision: Decided,
) -> tuple[ToolCall, ToolResult]:
    """Run a call as its ``decision`` fixed it; unknown tools and unexpected exceptions
    become error results for the model."""
    started = time.perf_counter()
    if call.name not in known:
        result = ToolResult(
            call.id,
            f"unknown tool {call.name!r}; available tools: {', '.join(sorted(known))}",
            True,
        )
    else:
        try:
            with decided(decision):
                result = await executor.run(call, watch)
        except Exception as error:  # a tool's crash is the model's to see
            result = ToolResult(call.id, f"{type(error).__name__}: {error}", True)
    duration = time.perf_counter() - started
    return call, dataclasses.replace(result, duration=duration)


class _Watch:
    """One call's ``CallWatch``: what it hears becomes the turn's events. Printed text
    passes up to ``LIVE_CHARS``: the trace shows a command's progress and its
    result shows the ends, so a flood (``yes``) never reaches the frontend."""

    def __init__(self, call_id: str, emit: Callable[[ToolOutput | Notice], None]) -> None:
        self.call_id = call_id
        self.emit = emit
        self.left = LIVE_CHARS

    def printed(self, text: str) -> None:
        if self.left <= 0:
            return
        piece = text[: self.left]
        self.left -= len(piece)
        self.emit(ToolOutput(self.call_id, piece, cut=self.left <= 0))

    def notice(self, text: str) -> None:
        self.emit(Notice(text, "warning"))


def not_run(call: ToolCall, stop_reason: str) -> ToolResult:
    """The answer to a call the model asked for in a step that did not stop for tools."""
    if stop_reason == "max_tokens":
        why = "the answer reached max_tokens while this call was being written"
    else:
        why = f"the step ended with stop reason {stop_reason!r}"
    return ToolResult(call.id, f"not run: {why}, so the call may be incomplete", True)


def repair_messages(
    messages: list[MessageParam], turn_start: int, finished: Mapping[str, ToolResult]
) -> None:
    """Keep the messages valid after any exit: answer pending tool calls, or undo an empty turn.

    Calls that finished before the interrupt keep their real results: their side effects
    happened, and the model must know.
    """
    if len(messages) == turn_start + 1:
        del messages[turn_start:]
        return
    last = messages[-1]
    if last["role"] != "assistant" or isinstance(last["content"], str):
        return
    pending = [b["id"] for b in last["content"] if b.get("type") == "tool_use"]  # type: ignore[union-attr]
    if pending:
        messages.append({"role": "user", "content": [answer(i, finished.get(i)) for i in pending]})  # type: ignore[misc]


def answer(tool_use_id: str, result: ToolResult | None) -> dict[str, Any]:
    """The ``tool_result`` for a call: its result, or the interrupted marker if it has none."""
    if result is None:
        return {
            "type": "tool_result",
            "tool_use_id": tool_use_id,
            "content": INTERRUPTED,
            "is_error": True,
        }
    return result.to_param()


_THINKING = frozenset({"thinking", "redacted_thinking"})


def drop_unanswered_server_calls(messages: list[MessageParam], turn_start: int) -> None:
    """Take out of this turn's messages the server tool calls (and MCP connector calls) it
    never saw answered.

    A pause cut short (an interrupt, a failed continuation, the continuation limit)
    leaves one at the end; the API refuses messages holding it. A message left with
    nothing but thinking goes too. Changed messages are copies: the recorded steps stay
    as received.
    """
    turn = [m for m in messages[turn_start:] if m["role"] == "assistant"]
    blocks = [b for m in turn if not isinstance(m["content"], str) for b in m["content"]]
    answered = {block.get("tool_use_id") for block in blocks}  # type: ignore[union-attr]
    for index in range(len(messages) - 1, turn_start, -1):
        message = messages[index]
        if message["role"] != "assistant" or isinstance(message["content"], str):
            continue
        content: list[Any] = list(message["content"])
        kept = [b for b in content if b.get("type") not in SERVER_CALLS or b["id"] in answered]
        if len(kept) == len(content):
            continue
        if any(block.get("type") not in _THINKING for block in kept):
            messages[index] = {**message, "content": kept}
        else:
            del messages[index]
