"""Typed events a turn emits; the only thing that flows up to the notebook layer.

Each event has a ``type`` tag and ``to_json()`` so display and recording can keep it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ..clients.base import ModelResponse, Usage
from ..tools.values import ToolCall, ToolResult

__all__ = [
    "Event",
    "ModelStepFinished",
    "TextDelta",
    "ToolCallFinished",
    "ToolCallStarted",
    "TurnEnded",
    "TurnFailed",
    "TurnStarted",
    "UsageReported",
]


@dataclass(frozen=True)
class TurnStarted:
    message: str
    backend: str
    model: str
    type: Literal["turn_started"] = "turn_started"

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "message": self.message,
            "backend": self.backend,
            "model": self.model,
        }


@dataclass(frozen=True)
class TextDelta:
    text: str
    type: Literal["text_delta"] = "text_delta"

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "text": self.text}


@dataclass(frozen=True)
class ToolCallStarted:
    call: ToolCall
    type: Literal["tool_call_started"] = "tool_call_started"

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "call": self.call.to_json()}


@dataclass(frozen=True)
class ToolCallFinished:
    call: ToolCall
    result: ToolResult
    type: Literal["tool_call_finished"] = "tool_call_finished"

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "call": self.call.to_json(), "result": self.result.to_json()}


@dataclass(frozen=True)
class ModelStepFinished:
    """One model response inside the turn; the recording keeps every one of them."""

    step: int
    response: ModelResponse
    type: Literal["model_step_finished"] = "model_step_finished"

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "step": self.step, "response": self.response.to_json()}


@dataclass(frozen=True)
class UsageReported:
    """Token usage of the turn so far."""

    usage: Usage
    type: Literal["usage_reported"] = "usage_reported"

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "usage": self.usage.to_json()}


@dataclass(frozen=True)
class TurnEnded:
    stop_reason: str
    text: str
    usage: Usage
    type: Literal["turn_ended"] = "turn_ended"

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "stop_reason": self.stop_reason,
            "text": self.text,
            "usage": self.usage.to_json(),
        }


@dataclass(frozen=True)
class TurnFailed:
    """The turn ended early; ``error`` is the ConjureError the caller re-raises."""

    error: Exception
    type: Literal["turn_failed"] = "turn_failed"

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "error": type(self.error).__name__,
            "message": str(self.error),
            "hint": getattr(self.error, "hint", ""),
        }


Event = (
    TurnStarted
    | TextDelta
    | ToolCallStarted
    | ToolCallFinished
    | ModelStepFinished
    | UsageReported
    | TurnEnded
    | TurnFailed
)
