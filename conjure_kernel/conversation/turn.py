"""The turn model: what the person saw of one turn, in the order they saw it.

A ``Timeline`` is built by folding the turn's events: text runs, tool calls (run by the
backend or on the server) with their state and result, notices, created files, and
approvals asked and answered. It is the one thing every view draws: the live view while
the turn runs, and, saved in the turn's record, the notebook's bundle and the JupyterLab
renderer afterwards. Keeping it in the record (rather than rebuilding it from the model's
steps) means a turn saved without its replay data still shows everything that happened.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from ..clients.base import ModelResponse
from ..events import (
    ApprovalAnswered,
    ApprovalAsked,
    Event,
    FileCreated,
    Notice,
    ServerToolCallFinished,
    ServerToolCallStarted,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
    ToolOutput,
    TurnEnded,
    TurnFailed,
)
from ..tools.values import ToolCall, ToolResult

__all__ = [
    "PRINTED_TAIL",
    "ApprovalEntry",
    "Entry",
    "FileEntry",
    "NoticeEntry",
    "Redact",
    "TextEntry",
    "Timeline",
    "ToolEntry",
    "ToolState",
    "redact_value",
    "tool_call_from_json",
    "tool_result_from_json",
]

Redact = Callable[[str], str]
"""Removes secrets from a piece of text (``notebook.secrets.Redactor`` is one)."""

ToolState = Literal["running", "ok", "error", "interrupted", "denied"]
"""``interrupted``: the turn ended before the call had a result; ``denied``: not allowed to run."""

_TOOL_STATES: tuple[str, ...] = get_args(ToolState)


PRINTED_TAIL = 4000
"""Characters of a running call's output a live view keeps: the latest lines, as a
terminal's last screenful."""


@dataclass
class TextEntry:
    """A run of answer text; consecutive deltas grow the same run."""

    text: str

    def redacted(self, redact: Redact) -> TextEntry:
        return TextEntry(redact(self.text))

    def to_json(self) -> dict[str, Any]:
        return {"type": "text", "text": self.text}


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

    def redacted(self, redact: Redact) -> ToolEntry:
        result = self.result and dataclasses.replace(
            self.result,
            tool_use_id=redact(self.result.tool_use_id),
            content=redact(self.result.content),
        )
        call = _redacted_call(self.call, redact)
        return ToolEntry(call, self.server, result, self.state, redact(self.printed))

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "tool",
            "call": self.call.to_json(),
            "server": self.server,
            "state": self.state,
            "result": self.result and self.result.to_json(),
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


Entry = TextEntry | ToolEntry | NoticeEntry | FileEntry | ApprovalEntry


@dataclass
class Timeline:
    """The turn's entries in the order they were shown."""

    entries: list[Entry] = field(default_factory=list)

    def add(self, event: Event) -> bool:
        """Fold one event in; True when what a view shows changed.

        Events that carry nothing to show (model steps, usage, the turn's start) are
        ignored, so a caller can pass every event of the turn.
        """
        if isinstance(event, TextDelta):
            return self._add_text(event.text)
        if isinstance(event, ToolCallStarted):
            self._start(event.call, server=isinstance(event, ServerToolCallStarted))
        elif isinstance(event, ToolCallFinished):
            tool = self._tool(event.call.id) or self._start(
                event.call, server=isinstance(event, ServerToolCallFinished)
            )
            tool.result = event.result
            if tool.state != "denied":
                tool.state = "error" if event.result.is_error else "ok"
        elif isinstance(event, ToolOutput):
            return self._print(event)
        elif isinstance(event, Notice):
            self.entries.append(NoticeEntry(event.text, event.level))
        elif isinstance(event, FileCreated):
            self.entries.append(FileEntry(event.path, event.tool_use_id))
        elif isinstance(event, ApprovalAsked):
            self.entries.append(ApprovalEntry(event.call, event.prompt))
        elif isinstance(event, ApprovalAnswered):
            self._answer(event)
        elif isinstance(event, TurnEnded | TurnFailed):
            return self._close()
        else:
            return False
        return True

    @property
    def answer(self) -> str:
        """The answer's text: every text run, joined."""
        return "".join(entry.text for entry in self.entries if isinstance(entry, TextEntry))

    @property
    def tools(self) -> list[ToolEntry]:
        return [entry for entry in self.entries if isinstance(entry, ToolEntry)]

    def files_by_call(self) -> dict[str, list[str]]:
        """The files each tool call created or downloaded, by ``tool_use_id``, in order."""
        files: dict[str, list[str]] = {}
        for entry in self.entries:
            if isinstance(entry, FileEntry) and entry.tool_use_id:
                files.setdefault(entry.tool_use_id, []).append(entry.path)
        return files

    @property
    def tool_calls(self) -> list[tuple[ToolCall, ToolResult]]:
        """Every call that has a result, in the order the calls were made."""
        return [(tool.call, tool.result) for tool in self.tools if tool.result is not None]

    def redacted(self, redact: Redact) -> Timeline:
        """A copy with ``redact`` applied to every text the person could see."""
        return Timeline([entry.redacted(redact) for entry in self.entries])

    def to_json(self) -> list[dict[str, Any]]:
        return [entry.to_json() for entry in self.entries]

    @classmethod
    def from_json(cls, data: Any) -> Timeline:
        """Read saved entries; ``KeyError``/``TypeError``/``ValueError`` when malformed."""
        if not isinstance(data, list):
            raise TypeError("the timeline is not a list")
        return cls([_entry_from_json(item) for item in data])

    @classmethod
    def from_steps(
        cls,
        steps: Sequence[ModelResponse],
        tool_calls: Sequence[tuple[ToolCall, ToolResult]],
        answer: str,
    ) -> Timeline:
        """The timeline of a record saved before timelines were (schema 1).

        Text and tool calls come from the model's steps; calls the steps do not name (a
        turn saved without its steps) follow, and the streamed answer stands in for
        missing steps. A call without a result never finished.
        """
        results = {call.id: result for call, result in tool_calls}
        timeline = cls()
        named: set[str] = set()
        for step in steps:
            for block in step.message["content"]:
                if block.get("type") == "text" and block.get("text"):
                    timeline._add_text(block["text"])
                elif block.get("type") == "tool_use":
                    call = ToolCall(block["id"], block["name"], dict(block.get("input") or {}))
                    named.add(call.id)
                    timeline.entries.append(_finished(call, results.get(call.id)))
        for call, result in tool_calls:
            if call.id not in named:
                timeline.entries.append(_finished(call, result))
        if not steps and answer:
            timeline._add_text(answer)
        return timeline

    def _add_text(self, text: str) -> bool:
        if not text:
            return False
        last = self.entries[-1] if self.entries else None
        if isinstance(last, TextEntry):
            last.text += text
        else:
            self.entries.append(TextEntry(text))
        return True

    def _start(self, call: ToolCall, *, server: bool) -> ToolEntry:
        tool = ToolEntry(call, server, state="denied" if self._denied(call.id) else "running")
        self.entries.append(tool)
        return tool

    def _print(self, event: ToolOutput) -> bool:
        tool = self._tool(event.tool_use_id)
        if tool is None or tool.result is not None:
            return False
        tool.printed = (tool.printed + event.text)[-PRINTED_TAIL:]
        return True

    def _tool(self, call_id: str) -> ToolEntry | None:
        return next((tool for tool in reversed(self.tools) if tool.call.id == call_id), None)

    def _answer(self, event: ApprovalAnswered) -> None:
        asked = next(
            (
                entry
                for entry in reversed(self.entries)
                if isinstance(entry, ApprovalEntry)
                and entry.call.id == event.call.id
                and entry.allowed is None
            ),
            None,
        )
        if asked is None:
            asked = ApprovalEntry(event.call)
            self.entries.append(asked)
        asked.allowed, asked.reason = event.allowed, event.reason
        tool = self._tool(event.call.id)
        if not event.allowed and tool is not None:
            tool.state = "denied"

    def _denied(self, call_id: str) -> bool:
        return any(
            isinstance(entry, ApprovalEntry) and entry.call.id == call_id and entry.allowed is False
            for entry in self.entries
        )

    def _close(self) -> bool:
        """The turn is over: a call still running was cut off."""
        running = [tool for tool in self.tools if tool.state == "running"]
        for tool in running:
            tool.state = "interrupted"
        return bool(running)


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
    )


def _redacted_call(call: ToolCall, redact: Redact) -> ToolCall:
    return ToolCall(redact(call.id), redact(call.name), redact_value(call.input, redact))


def _finished(call: ToolCall, result: ToolResult | None) -> ToolEntry:
    if result is None:
        return ToolEntry(call, state="interrupted")
    return ToolEntry(call, result=result, state="error" if result.is_error else "ok")


def _entry_from_json(data: Any) -> Entry:
    kind = data["type"]
    if kind == "text":
        return TextEntry(str(data["text"]))
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
