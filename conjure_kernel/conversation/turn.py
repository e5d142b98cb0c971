"""The turn model: what the person saw of one turn, entry by entry.

A turn's ``Timeline`` (timeline.py) is a list of these entries: text runs, the model's
thinking, tool calls (run by the backend or on the server) with their state and result,
notices, created files, and approvals asked and answered. Each entry can be redacted and
saved as JSON, and read back (``entry_from_json``), so the views, the notebook's bundle
and the JupyterLab renderer all draw the same thing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

from ..tools.values import ToolCall, ToolResult

__all__ = [
    "ApprovalEntry",
    "Entry",
    "FileEntry",
    "NoticeEntry",
    "Redact",
    "TextEntry",
    "ThinkingEntry",
    "ToolEntry",
    "ToolState",
    "entry_from_json",
    "redact_value",
    "tool_call_from_json",
    "tool_result_from_json",
]

Redact = Callable[[str], str]
"""Removes secrets from a piece of text (``notebook.secrets.Redactor`` is one)."""

ToolState = Literal["running", "ok", "error", "interrupted", "denied"]
"""``interrupted``: the turn ended before the call had a result; ``denied``: not allowed to run."""

_TOOL_STATES: tuple[str, ...] = get_args(ToolState)


@dataclass
class TextEntry:
    """A run of answer text; consecutive deltas grow the same run."""

    text: str

    def redacted(self, redact: Redact) -> TextEntry:
        return TextEntry(redact(self.text))

    def to_json(self) -> dict[str, Any]:
        return {"type": "text", "text": self.text}


@dataclass
class ThinkingEntry:
    """A step's summarised thinking; consecutive deltas grow it. Never part of the answer."""

    text: str

    def redacted(self, redact: Redact) -> ThinkingEntry:
        return ThinkingEntry(redact(self.text))

    def to_json(self) -> dict[str, Any]:
        return {"type": "thinking", "text": self.text}


@dataclass
class ToolEntry:
    """One tool call: its input, and once it finished, its result."""

    call: ToolCall
    server: bool = False
    """Run on Anthropic's side (code execution) rather than by the backend."""
    result: ToolResult | None = None
    state: ToolState = "running"
    printed: str = ""
    """The end of what the call printed while it ran, for live views; not saved, since
    its result holds what counts."""
    backend: str = ""
    """The backend that ran it, in a session that routes calls to several (hybrid)."""

    def redacted(self, redact: Redact) -> ToolEntry:
        result = self.result and dataclasses.replace(
            self.result,
            tool_use_id=redact(self.result.tool_use_id),
            content=redact(self.result.content),
        )
        call = _redacted_call(self.call, redact)
        return ToolEntry(call, self.server, result, self.state, redact(self.printed), self.backend)

    def to_json(self) -> dict[str, Any]:
        where = {"backend": self.backend} if self.backend else {}
        return {
            "type": "tool",
            "call": self.call.to_json(),
            "server": self.server,
            "state": self.state,
            "result": self.result and self.result.to_json(),
            **where,
        }


@dataclass(frozen=True)
class NoticeEntry:
    """A one-line remark about the turn (a retry, a replaced container)."""

    text: str
    level: Literal["info", "warning"] = "info"

    def redacted(self, redact: Redact) -> NoticeEntry:
        return NoticeEntry(redact(self.text), self.level)

    def to_json(self) -> dict[str, Any]:
        return {"type": "notice", "text": self.text, "level": self.level}


@dataclass(frozen=True)
class FileEntry:
    """A file a tool created or downloaded, by its path on the host."""

    path: str
    tool_use_id: str = ""

    def redacted(self, redact: Redact) -> FileEntry:
        return FileEntry(redact(self.path), redact(self.tool_use_id))

    def to_json(self) -> dict[str, Any]:
        return {"type": "file", "path": self.path, "tool_use_id": self.tool_use_id}


@dataclass
class ApprovalEntry:
    """A tool call that needed permission: what was asked, and the decision once made.

    ``allowed`` is None while the question is open. A decision taken without asking (by
    a rule) has an empty ``prompt``.
    """

    call: ToolCall
    prompt: str = ""
    allowed: bool | None = None
    reason: str = ""

    def redacted(self, redact: Redact) -> ApprovalEntry:
        return ApprovalEntry(
            _redacted_call(self.call, redact),
            redact(self.prompt),
            self.allowed,
            redact(self.reason),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "approval",
            "call": self.call.to_json(),
            "prompt": self.prompt,
            "allowed": self.allowed,
            "reason": self.reason,
        }


Entry = TextEntry | ThinkingEntry | ToolEntry | NoticeEntry | FileEntry | ApprovalEntry


def redact_value(value: Any, redact: Redact) -> Any:
    """A copy of a JSON-like value with ``redact`` applied to every string in it.

    Keys stay: they name fields, and a secret would never be one.
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_value(item, redact) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_value(item, redact) for item in value]
    return value


def tool_call_from_json(data: Any) -> ToolCall:
    return ToolCall(str(data["id"]), str(data["name"]), dict(data.get("input") or {}))


def tool_result_from_json(data: Any) -> ToolResult:
    return ToolResult(
        str(data["tool_use_id"]),
        str(data["content"]),
        bool(data.get("is_error", False)),
        data.get("exit_code"),
        float(data.get("duration") or 0.0),
        tuple(dict(image) for image in data.get("images") or ()),
    )


def _redacted_call(call: ToolCall, redact: Redact) -> ToolCall:
    return ToolCall(redact(call.id), redact(call.name), redact_value(call.input, redact))


def entry_from_json(data: Any) -> Entry:
    """One saved entry read back; ``KeyError``/``TypeError``/``ValueError`` when malformed."""
    kind = data["type"]
    if kind == "text":
        return TextEntry(str(data["text"]))
    if kind == "thinking":
        return ThinkingEntry(str(data["text"]))
    if kind == "tool":
        state = data["state"]
        if state not in _TOOL_STATES:
            raise ValueError(f"unknown tool state {state!r}")
        result = data.get("result")
        return ToolEntry(
            tool_call_from_json(data["call"]),
            bool(data.get("server", False)),
            None if result is None else tool_result_from_json(result),
            state,
            backend=str(data.get("backend", "")),
        )
    if kind == "notice":
        level = data.get("level", "info")
        if level not in ("info", "warning"):
            raise ValueError(f"unknown notice level {level!r}")
        return NoticeEntry(str(data["text"]), level)
    if kind == "file":
        return FileEntry(str(data["path"]), str(data.get("tool_use_id", "")))
    if kind == "approval":
        allowed = data.get("allowed")
        if allowed not in (None, True, False):
            raise ValueError(f"an approval's decision is {allowed!r}, not true, false or null")
        return ApprovalEntry(
            tool_call_from_json(data["call"]),
            str(data.get("prompt", "")),
            allowed,
            str(data.get("reason", "")),
        )
    raise ValueError(f"unknown timeline entry type {kind!r}")
