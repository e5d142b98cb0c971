"""Typed events a turn emits: the only thing that flows up from a backend to the views.

A leaf module: it knows the values of the layers below it (tool calls, model
responses) and nothing above. Each event has a ``type`` tag and ``to_json()``, so the
turn model can keep everything the person saw live in the saved record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .clients.base import ModelResponse, Usage
from .tools.values import ToolCall, ToolResult

__all__ = [
    "ApprovalAnswered",
    "ApprovalAsked",
    "Event",
    "FileCreated",
    "ModelStepFinished",
    "Notice",
    "ServerToolCallFinished",
    "ServerToolCallStarted",
    "TextDelta",
    "ThinkingDelta",
    "ToolCallFinished",
    "ToolCallStarted",
    "ToolOutput",
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
class ThinkingDelta:
    """A piece of the model's summarised thinking, as it streams; the person sees it as
    a muted row, folded once the step goes on."""

    text: str
    type: Literal["thinking_delta"] = "thinking_delta"

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "text": self.text}


@dataclass(frozen=True)
class ToolCallStarted:
    """A client-side tool call (run by the backend) has started."""

    call: ToolCall
    type: Literal["tool_call_started", "server_tool_call_started"] = "tool_call_started"
    backend: str = ""
    """The backend that runs it, where a session routes calls to several (hybrid); empty
    where one backend runs them all."""

    def to_json(self) -> dict[str, Any]:
        where = {"backend": self.backend} if self.backend else {}
        return {"type": self.type, "call": self.call.to_json(), **where}


@dataclass(frozen=True)
class ToolCallFinished:
    """A client-side tool call has a result (an error result when it failed or was stopped)."""

    call: ToolCall
    result: ToolResult
    type: Literal["tool_call_finished", "server_tool_call_finished"] = "tool_call_finished"

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "call": self.call.to_json(), "result": self.result.to_json()}


@dataclass(frozen=True)
class ToolOutput:
    """Text a running command printed, as it arrived: for the live trace only. The call's
    result carries what the model gets; the saved record keeps that, not these."""

    tool_use_id: str
    text: str
    cut: bool = False
    """The last piece the trace gets of this call: the rest shows in its result."""
    type: Literal["tool_output"] = "tool_output"

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "tool_use_id": self.tool_use_id,
            "text": self.text,
            "cut": self.cut,
        }


@dataclass(frozen=True)
class ServerToolCallStarted(ToolCallStarted):
    """A tool call that runs on Anthropic's side (code execution), seen in the model's stream.

    A subclass, so a view that shows tool calls shows these the same way; the loop
    never answers them, since the server does.
    """

    type: Literal["server_tool_call_started"] = "server_tool_call_started"


@dataclass(frozen=True)
class ServerToolCallFinished(ToolCallFinished):
    """The result block of a server-side tool call, parsed into a ``ToolResult``."""

    type: Literal["server_tool_call_finished"] = "server_tool_call_finished"


@dataclass(frozen=True)
class FileCreated:
    """A tool created or downloaded a file; ``path`` is where it is on the host."""

    path: str
    tool_use_id: str = ""
    type: Literal["file_created"] = "file_created"

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "path": self.path, "tool_use_id": self.tool_use_id}


@dataclass(frozen=True)
class Notice:
    """A visible one-liner about the turn (a retry, a replaced container)."""

    text: str
    level: Literal["info", "warning"] = "info"
    type: Literal["notice"] = "notice"

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "text": self.text, "level": self.level}


@dataclass(frozen=True)
class ApprovalAsked:
    """A tool call waits for the person's permission."""

    call: ToolCall
    prompt: str
    type: Literal["approval_asked"] = "approval_asked"

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "call": self.call.to_json(), "prompt": self.prompt}


@dataclass(frozen=True)
class ApprovalAnswered:
    """The decision on a tool call: allowed or denied, by whom (a rule, the person, no stdin)."""

    call: ToolCall
    allowed: bool
    reason: str = ""
    type: Literal["approval_answered"] = "approval_answered"

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "call": self.call.to_json(),
            "allowed": self.allowed,
            "reason": self.reason,
        }


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
    | ThinkingDelta
    | ToolCallStarted
    | ToolCallFinished
    | ToolOutput
    | ServerToolCallStarted
    | ServerToolCallFinished
    | FileCreated
    | Notice
    | ApprovalAsked
    | ApprovalAnswered
    | ModelStepFinished
    | UsageReported
    | TurnEnded
    | TurnFailed
)
