"""The model client of a replay: streams the recorded steps of the turn a ``Replay`` is on.

It only streams, as the live client does: text in pieces, so a replayed answer still
appears progressively, hosted tool calls and their results whole, then the response.
Which turn and what the recording holds is the ``Replay``'s business.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from .base import (
    ModelRequest,
    ModelResponse,
    ServerToolResult,
    ServerToolUse,
    StreamItem,
    TextChunk,
    ThinkingChunk,
)
from .replay import Replay
from .server_tools import SERVER_CALLS, is_server_tool_result, server_call_name

__all__ = ["RecordedModel"]

_CHUNK = 24
"""Characters per streamed chunk, so a replayed answer still appears progressively."""


class RecordedModel:
    """Answers each request with the recorded response of the same turn and step."""

    def __init__(self, replay: Replay) -> None:
        self.replay = replay

    async def stream(self, request: ModelRequest) -> AsyncIterator[StreamItem]:
        response = self.replay.response(_steps_taken(request.messages))
        for item in _streamed(response):
            yield item
        yield response


def _streamed(
    response: ModelResponse,
) -> Iterator[TextChunk | ThinkingChunk | ServerToolUse | ServerToolResult]:
    """What the live stream carried before the response, block by block: text in
    pieces, server tool calls and their results whole."""
    for block in response.message["content"]:
        kind = block.get("type", "")
        if kind == "text":
            text = block.get("text", "")
            for start in range(0, len(text), _CHUNK):
                yield TextChunk(text[start : start + _CHUNK])
        elif kind == "thinking" and block.get("thinking"):
            yield ThinkingChunk(block["thinking"])
        elif kind in SERVER_CALLS:
            yield ServerToolUse(
                block["id"], server_call_name(block), dict(block.get("input") or {})
            )
        elif is_server_tool_result(kind):
            yield ServerToolResult(block)


def _steps_taken(messages: Sequence[Any]) -> int:
    """How many assistant messages follow the turn's opening user message."""
    steps = 0
    for message in reversed(messages):
        if message["role"] == "assistant":
            steps += 1
        elif not _is_tool_results(message["content"]):
            return steps
    return steps


def _is_tool_results(content: Any) -> bool:
    return isinstance(content, list) and any(b.get("type") == "tool_result" for b in content)
