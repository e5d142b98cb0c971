"""A turn's ``Timeline``: its entries (turn.py) in the order the person saw them.

Split from turn.py, which holds the entries: the timeline is built by folding the
turn's events in, and only the turn's recorder (transcript.py) folds them, so a turn has
one timeline. It is the one thing every view draws: the live views while the turn runs,
told which entries each event changed (``add`` names them), and, saved in the turn's
record, the notebook's bundle and the JupyterLab renderer afterwards. Keeping it in the
record (rather than rebuilding it from the model's steps) means a turn saved without its
replay data still shows everything that happened.
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

    def add(self, event: Event) -> tuple[Entry, ...]:
        """Fold one event in; the entries it added or changed, in order (none: what a
        view shows did not change), so a view redraws those alone.

        Events that carry nothing to show (model steps, usage, the turn's start) are
        ignored, so a caller can pass every event of the turn.
        """
        if isinstance(event, TextDelta):
            return self._grow(TextEntry, event.text)
        if isinstance(event, ThinkingDelta):
            return self._grow(ThinkingEntry, event.text)
        if isinstance(event, ToolCallStarted):
            server = isinstance(event, ServerToolCallStarted)
            return (self._start(event.call, server=server, backend=event.backend),)
        if isinstance(event, ToolCallFinished):
            tool = self._tool(event.call.id) or self._start(
                event.call, server=isinstance(event, ServerToolCallFinished)
            )
            tool.result = event.result
            if tool.state != "denied":
                tool.state = "error" if event.result.is_error else "ok"
            return (tool,)
        if isinstance(event, ToolOutput):
            return self._print(event)
        if isinstance(event, Notice):
            return self._append(NoticeEntry(event.text, event.level))
        if isinstance(event, FileCreated):
            return self._append(FileEntry(event.path, event.tool_use_id))
        if isinstance(event, ApprovalAsked):
            return self._append(ApprovalEntry(event.call, event.prompt))
        if isinstance(event, ApprovalAnswered):
            return self._answer(event)
        if isinstance(event, TurnEnded | TurnFailed):
            return self._close()
        return ()

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

    def _grow(self, kind: type[TextEntry | ThinkingEntry], text: str) -> tuple[Entry, ...]:
        """Grow the run of ``kind`` that the last entry is, or start one after any other
        entry: a step's thinking comes before its text and calls, so each step's
        thinking is a row of its own."""
        if not text:
            return ()
        last = self.entries[-1] if self.entries else None
        if isinstance(last, kind):
            last.text += text
            return (last,)
        return self._append(kind(text))

    def _append(self, entry: Entry) -> tuple[Entry, ...]:
        self.entries.append(entry)
        return (entry,)

    def _start(self, call: ToolCall, *, server: bool, backend: str = "") -> ToolEntry:
        state = "denied" if self._denied(call.id) else "running"
        tool = ToolEntry(call, server, state=state, backend=backend)
        self.entries.append(tool)
        return tool

    def _print(self, event: ToolOutput) -> tuple[Entry, ...]:
        tool = self._tool(event.tool_use_id)
        if tool is None or tool.result is not None:
            return ()
        tool.printed = (tool.printed + event.text)[-LIVE_TAIL:]
        return (tool,)

    def _tool(self, call_id: str) -> ToolEntry | None:
        return next((tool for tool in reversed(self.tools) if tool.call.id == call_id), None)

    def _answer(self, event: ApprovalAnswered) -> tuple[Entry, ...]:
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
        if event.allowed or tool is None:
            return (asked,)
        tool.state = "denied"
        return (asked, tool)

    def _denied(self, call_id: str) -> bool:
        return any(
            isinstance(entry, ApprovalEntry) and entry.call.id == call_id and entry.allowed is False
            for entry in self.entries
        )

    def _close(self) -> tuple[Entry, ...]:
        """The turn is over: a call still running was cut off."""
        running = tuple(tool for tool in self.tools if tool.state == "running")
        for tool in running:
            tool.state = "interrupted"
        return running


def _finished(call: ToolCall, result: ToolResult | None) -> ToolEntry:
    if result is None:
        return ToolEntry(call, state="interrupted")
    return ToolEntry(call, result=result, state="error" if result.is_error else "ok")
