"""The values that cross the tool seam: a call from the model and what came of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ExecResult", "Gap", "ToolCall", "ToolResult"]


@dataclass(frozen=True)
class ToolCall:
    """One ``tool_use`` block of an assistant message."""

    id: str
    name: str
    input: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "input": self.input}


@dataclass(frozen=True)
class Gap:
    """A stretch of a stream dropped while it was read, ``at`` characters into the kept text."""

    at: int
    chars: int
    lines: int
    """Line breaks in the dropped stretch."""


@dataclass(frozen=True)
class ExecResult:
    """What a shell command did: its exit code and both streams.

    A stream may have lost its middle while it was read (memory stays bounded); its gap
    says where and how much, so formatting cuts once and names the true sizes.
    """

    exit_code: int
    stdout: str
    stderr: str
    timed_out: bool = False
    stdout_gap: Gap | None = None
    stderr_gap: Gap | None = None
    background: tuple[tuple[int, str], ...] = ()
    """Processes the command left running, as (pid, command line): they outlive the call."""


@dataclass(frozen=True)
class ToolResult:
    """The answer to one ``ToolCall``, ready to go back to the model.

    ``content`` is never empty: the API rejects empty text blocks.
    """

    tool_use_id: str
    content: str
    is_error: bool = False
    exit_code: int | None = None
    """The shell's exit status, for tools that run a command."""
    duration: float = 0.0
    """Seconds the tool took, measured around the executor call."""
    images: tuple[dict[str, Any], ...] = ()
    """Image blocks (``{"type": "image", "source": {...}}``) sent after the text: what an
    MCP tool returned as pictures."""

    def to_param(self) -> dict[str, Any]:
        """The ``tool_result`` block the Messages API expects."""
        text = self.content or "(no output)"
        content: str | list[dict[str, Any]] = text
        if self.images:
            content = [{"type": "text", "text": text}, *self.images]
        return {
            "type": "tool_result",
            "tool_use_id": self.tool_use_id,
            "content": content,
            "is_error": self.is_error,
        }

    def to_json(self) -> dict[str, Any]:
        shown = {"images": list(self.images)} if self.images else {}
        return {
            "tool_use_id": self.tool_use_id,
            "content": self.content,
            "is_error": self.is_error,
            "exit_code": self.exit_code,
            "duration": round(self.duration, 4),
            **shown,
        }
