"""A model client that answers from a script, for backend unit tests.

The real SDK is tested against the fake Messages API server; here the backends only
need answers in a known order and a record of what each request carried.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

from conjure_kernel.clients.base import ModelRequest, ModelResponse, TextChunk, Usage

__all__ = ["ScriptedClient", "text_reply", "tool_use_reply"]


class ScriptedClient:
    """Yields the queued responses one per request and keeps every request it was sent."""

    def __init__(self, responses: Iterable[ModelResponse]) -> None:
        self.responses = list(responses)
        self.requests: list[ModelRequest] = []

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextChunk | ModelResponse]:
        self.requests.append(request)
        response = self.responses.pop(0)
        if response.text():
            yield TextChunk(response.text())
        yield response


def tool_use_reply(*calls: tuple[str, str, dict[str, Any]]) -> ModelResponse:
    """An assistant message that calls tools: ``(id, name, input)`` per call."""
    content = [{"type": "tool_use", "id": i, "name": n, "input": x} for i, n, x in calls]
    return ModelResponse({"role": "assistant", "content": content}, "tool_use", Usage(10, 5))


def text_reply(text: str) -> ModelResponse:
    """An assistant message that ends the turn."""
    content = [{"type": "text", "text": text}]
    return ModelResponse({"role": "assistant", "content": content}, "end_turn", Usage(10, 5))
