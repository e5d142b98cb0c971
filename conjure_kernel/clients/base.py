"""The model-client seam (the seed's ``api_callback``).

A client takes one ``ModelRequest`` and streams ``TextChunk`` items while the model
writes, then exactly one ``ModelResponse`` with the finished assistant message.
The real client talks to the Messages API; the replay client answers from a recording.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from anthropic.types import MessageParam, ToolParam

__all__ = ["ModelClient", "ModelRequest", "ModelResponse", "TextChunk", "Usage"]


@dataclass(frozen=True)
class Usage:
    """Token counts of one response, or the sum over a turn."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_creation_input_tokens + other.cache_creation_input_tokens,
            self.cache_read_input_tokens + other.cache_read_input_tokens,
        )

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Usage:
        data = data or {}
        return cls(**{name: int(data.get(name) or 0) for name in cls.__dataclass_fields__})

    def to_json(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class ModelRequest:
    """Everything one Messages API call needs; the loop builds a new one per step."""

    model: str
    system: str
    messages: Sequence[MessageParam]
    tools: Sequence[ToolParam] = ()
    max_tokens: int = 16000
    extra: dict[str, Any] = field(default_factory=dict)
    """Backend-specific request parameters (for example ``container``)."""


@dataclass(frozen=True)
class TextChunk:
    """A piece of the answer's text, as it streams."""

    text: str


@dataclass(frozen=True)
class ModelResponse:
    """The finished assistant message of one step."""

    message: dict[str, Any]
    """The assistant ``MessageParam`` (role and content blocks), ready to append to the history."""
    stop_reason: str
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    id: str = ""

    def tool_uses(self) -> list[dict[str, Any]]:
        return [block for block in self.message["content"] if block.get("type") == "tool_use"]

    def text(self) -> str:
        return "".join(
            b.get("text", "") for b in self.message["content"] if b.get("type") == "text"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "model": self.model,
            "stop_reason": self.stop_reason,
            "usage": self.usage.to_json(),
            "message": self.message,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelResponse:
        """Read a saved response; ``ValueError`` when its message could not be sent back."""
        message = data["message"]
        if not (
            isinstance(message, dict)
            and message.get("role") == "assistant"
            and isinstance(message.get("content"), list)
            and all(isinstance(block, dict) and "type" in block for block in message["content"])
        ):
            raise ValueError(
                "a model step's message is not an assistant message with content blocks"
            )
        return cls(
            message=data["message"],
            stop_reason=data["stop_reason"],
            usage=Usage.from_json(data.get("usage")),
            model=data.get("model", ""),
            id=data.get("id", ""),
        )


@runtime_checkable
class ModelClient(Protocol):
    """Sends a request and streams the answer."""

    def stream(self, request: ModelRequest) -> AsyncIterator[TextChunk | ModelResponse]:
        """Yield text chunks, then one ``ModelResponse``; raise ``ModelError`` on failure."""
        ...
