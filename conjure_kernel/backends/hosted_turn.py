"""One user turn on the hosted backend: its requests, continuations and files.

Split from anthropic.py: the backend sets a session up, this runs a turn on it. The
algorithm, in order:

1. the turn's ``Hosting`` prepares (live: local skills uploaded, a container reused), and
   the MCP servers the API's connector may call are settled (``hosted_mcp``);
2. send the messages with the code-execution tool, the container and those servers, and
   stream the answer, reporting each server tool call (an MCP connector's too) and its
   result as they arrive, as local calls are reported (a container the API refuses, as
   expired, unknown or with a 500, is replaced once, with a notice: a second refusal
   ends the turn);
3. the step's files come back (live: downloaded into the workdir);
4. on ``pause_turn`` (the server's own loop reached its limit) send the paused content
   back unchanged, with no new user message, at most ``max_continuations`` times: the
   steps show as one turn;
5. on ``tool_use``, when the turn offers client tools beside code execution (a hybrid
   session's other routes), answer the calls as the client-side loop does (gate, run,
   results) and send them back, at most ``max_iterations`` steps in all;
6. else the turn ends; a client tool call the model asked for is answered as not run.

After any failure or interrupt the messages stay valid: an empty turn is taken back,
and a server tool call the turn never saw answered (a pause cut short) is taken out of
its message, since the API refuses such a call without its result.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any

from ..clients.api_errors import ContainerExpired
from ..clients.base import (
    ModelClient,
    ModelRequest,
    ModelResponse,
    ServerToolResult,
    ServerToolUse,
    StreamItem,
)
from ..clients.server_tools import (
    file_ids,
    tool_call,
    tool_result,
    unserved_connector_calls_as_text,
)
from ..errors import TurnLimitReached
from ..events import (
    Event,
    ServerToolCallFinished,
    ServerToolCallStarted,
    ToolCallFinished,
    ToolCallStarted,
    TurnEnded,
)
from ..tools.executor import Executor
from ..tools.values import ToolCall, ToolResult
from .base import TurnOptions
from .hosted_mcp import McpConnector
from .hosted_session import AnthropicSession
from .hosting import FileRef, Hosting
from .loop import (
    Steps,
    answer_calls,
    drop_unanswered_server_calls,
    not_run,
    progress_event,
    repair_messages,
)

__all__ = ["NO_CLIENT_TOOLS", "HostedTurn"]

NO_CLIENT_TOOLS = "not run: the anthropic backend runs only Anthropic's hosted tools"


class HostedTurn:
    """One user turn on the hosted backend; ``run`` yields its events."""

    def __init__(
        self,
        session: AnthropicSession,
        client: ModelClient,
        options: TurnOptions,
        hosting: Hosting,
        tools: Executor | None = None,
    ) -> None:
        self.session = session
        self.client = client
        self.options = options
        self.hosting = hosting
        self.calls: dict[str, tuple[ToolCall, float]] = {}
        """Server tool calls of this turn by id, with when each was seen (for its duration)."""
        self.files: list[FileRef] = []
        """Files the current step's results name, fetched once it ends."""
        self.steps = Steps(client, options.messages)
        self.texts: list[str] = []
        more = options.more_tools
        self.connector = more if isinstance(more, McpConnector) else None
        """The URL servers the API's MCP connector may call this turn."""
        self.tools = tools
        """Client-side tools offered beside code execution (a hybrid session's); None: none."""

    async def run(self, message: str | list[dict[str, Any]]) -> AsyncIterator[Event]:
        messages = self.options.messages
        turn_start = len(messages)
        messages.append({"role": "user", "content": message})
        answered: dict[str, ToolResult] = {}
        pauses = 0
        try:
            async for event in self.hosting.prepare():
                yield event
            if self.connector is not None:
                async for event in self.connector.settle(self.options.gate):
                    yield event
            offered = frozenset(self.connector.offered if self.connector else ())
            messages[:] = unserved_connector_calls_as_text(messages, offered)
            while True:
                async for event in self._step():
                    yield event
                response = self.steps.last
                async for event in self._finish_step(response):
                    yield event
                if response.stop_reason == "tool_use" and self.tools and response.tool_uses():
                    async for event in self._answer(response, answered):
                        yield event
                    continue
                if response.stop_reason != "pause_turn":
                    break
                pauses += 1
                if pauses > self.session.max_continuations:
                    raise TurnLimitReached(
                        f"the server paused this turn {pauses} times (pause_turn), "
                        "so it was stopped",
                        hint="raise the max_continuations setting, or send a message to let Claude go on",
                    )
            for block in response.tool_uses():  # a call the turn cannot run: answered as not run
                call = ToolCall(block["id"], block["name"], dict(block.get("input") or {}))
                answered[call.id] = (
                    not_run(call, response.stop_reason)
                    if self.tools
                    else ToolResult(call.id, NO_CLIENT_TOOLS, is_error=True)
                )
                yield ToolCallStarted(call)
                yield ToolCallFinished(call, answered[call.id])
            for event in self.hosting.ended(len(self.calls)):
                yield event
            yield TurnEnded(response.stop_reason, "".join(self.texts), self.steps.usage)
        finally:
            drop_unanswered_server_calls(messages, turn_start)
            repair_messages(messages, turn_start, answered)

    async def _answer(
        self, response: ModelResponse, answered: dict[str, ToolResult]
    ) -> AsyncIterator[Event]:
        """Run the step's client calls as the client-side loop does, and send the results."""
        assert self.tools is not None
        calls = [ToolCall(b["id"], b["name"], b.get("input") or {}) for b in response.tool_uses()]
        replay = self.options.replay
        unfinished = replay.unfinished() if replay is not None else {}
        results: dict[str, ToolResult] = {}
        try:
            async for event in answer_calls(
                calls, self.tools, self.options.gate, unfinished, results
            ):
                yield event
        finally:
            answered.update(results)
        content = [results[call.id].to_param() for call in calls]
        self.options.messages.append({"role": "user", "content": content})  # type: ignore[typeddict-item]
        if self.steps.count >= self.options.max_iterations:
            raise TurnLimitReached(
                f"the model was still calling tools after {self.steps.count} steps, so the "
                "turn was stopped",
                hint="raise the max_iterations setting (model calls allowed per turn), or ask "
                "for a smaller step",
            )

    async def _finish_step(self, response: ModelResponse) -> AsyncIterator[Event]:
        """Note what the step ran on, and fetch the files its calls made."""
        self.texts.append(response.text())
        self.hosting.ran(response)
        produced, self.files = self.files, []
        async for event in self.hosting.files(produced):
            yield event

    async def _step(self) -> AsyncIterator[Event]:
        """One request and its stream; a refused container is replaced once, with a notice."""
        for attempt in range(2):
            try:
                async for event in self.steps.stream(self._request(), self._event):
                    yield event
                return
            except ContainerExpired as refused:
                notice = None if attempt else self.hosting.container_refused(refused.why)
                if notice is None:
                    raise
                yield notice

    def _request(self) -> ModelRequest:
        request = ModelRequest(
            self.options.model,
            self.session.system_prompt,
            list(self.options.messages),
            [
                {"type": self.session.tool, "name": "code_execution"},
                *(self.tools.tools if self.tools else ()),
            ],
            self.options.max_tokens,
            self.hosting.container(),
        )
        return self.connector.joined(request) if self.connector is not None else request

    def _event(self, item: StreamItem) -> Event | None:
        """The event a stream item stands for: a server tool call's start or end, or the
        progress every step shows."""
        if isinstance(item, ServerToolUse):
            call = tool_call(item)
            self.calls[call.id] = (call, time.perf_counter())
            return ServerToolCallStarted(call)
        if isinstance(item, ServerToolResult):
            return self._finished(item)
        return progress_event(item)

    def _finished(self, item: ServerToolResult) -> ServerToolCallFinished:
        call, started = self.calls.get(item.tool_use_id) or (
            ToolCall(item.tool_use_id, item.block_type.removesuffix("_tool_result")),
            time.perf_counter(),
        )
        result = tool_result(item, limit=self.session.max_output_chars)
        self.files += [(item.tool_use_id, file_id) for file_id in file_ids(item)]
        duration = self.hosting.duration(started)
        return ServerToolCallFinished(call, dataclasses.replace(result, duration=duration))
