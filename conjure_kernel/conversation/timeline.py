"""A turn's ``Timeline``: its entries (turn.py) in the order the person saw them.

Split from turn.py, which holds the entries: the timeline is built by folding the
turn's events in. It is the one thing every view draws: the live view while the turn
runs, and, saved in the turn's record, the notebook's bundle and the JupyterLab
renderer afterwards. Keeping it in the record (rather than rebuilding it from the
model's steps) means a turn saved without its replay data still shows everything that
happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

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
    ThinkingDelta,
    ToolCallFinished,
    ToolCallStarted,
    ToolOutput,
    TurnEnded,
    TurnFailed,
)
from ..tools.printed_limits import LIVE_TAIL
from ..tools.values import ToolCall, ToolResult
from .turn import (
    ApprovalEntry,
    Entry,
    FileEntry,
    NoticeEntry,
    Redact,
    TextEntry,
    ThinkingEntry,
    ToolEntry,
    entry_from_json,
)

__all__ = ["Timeline"]


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
            return self._grow(TextEntry, event.text)
        if isinstance(event, ThinkingDelta):
            return self._grow(ThinkingEntry, event.text)
        if isinstance(event, ToolCallStarted):
            self._start(
                event.call, server=isinstance(event, ServerToolCallStarted), backend=event.backend
            )
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
        """The answer's text: every text run, joined (thinking is not part of it)."""
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
        return cls([entry_from_json(item) for item in data])

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
                    timeline._grow(TextEntry, block["text"])
                elif block.get("type") == "tool_use":
                    call = ToolCall(block["id"], block["name"], dict(block.get("input") or {}))
                    named.add(call.id)
                    timeline.entries.append(_finished(call, results.get(call.id)))
        for call, result in tool_calls:
            if call.id not in named:
                timeline.entries.append(_finished(call, result))
        if not steps and answer:
            timeline._grow(TextEntry, answer)
        return timeline

    def _grow(self, kind: type[TextEntry | ThinkingEntry], text: str) -> bool:
        """Grow the run of ``kind`` that the last entry is, or start one after any other
        entry: a step's thinking comes before its text and calls, so each step's
        thinking is a row of its own."""
        if not text:
            return False
        last = self.entries[-1] if self.entries else None
        if isinstance(last, kind):
            last.text += text
        else:
            self.entries.append(kind(text))
        return True

    def _start(self, call: ToolCall, *, server: bool, backend: str = "") -> ToolEntry:
        state = "denied" if self._denied(call.id) else "running"
        tool = ToolEntry(call, server, state=state, backend=backend)
        self.entries.append(tool)
        return tool

    def _print(self, event: ToolOutput) -> bool:
        tool = self._tool(event.tool_use_id)
        if tool is None or tool.result is not None:
            return False
        tool.printed = (tool.printed + event.text)[-LIVE_TAIL:]
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


def _finished(call: ToolCall, result: ToolResult | None) -> ToolEntry:
    if result is None:
        return ToolEntry(call, state="interrupted")
    return ToolEntry(call, result=result, state="error" if result.is_error else "ok")
