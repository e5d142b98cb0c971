"""Turn events into cell output: a live view while the turn runs, a saved bundle after.

The saved bundle holds the turn's record under ``TURN_MIME_TYPE`` (versioned, read by
replay and by the JupyterLab renderer) plus ``text/markdown`` and ``text/html``
fallbacks, so the notebook reads well anywhere, before any extension is installed.
"""

from __future__ import annotations

import dataclasses
import html
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import mistune
from IPython.display import display

from ..conversation.transcript import TurnRecord
from ..events import (
    Event,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
    TurnStarted,
)
from ..tools.values import ToolCall, ToolResult

__all__ = ["TURN_MIME_TYPE", "LiveTurnView", "turn_bundle"]

TURN_MIME_TYPE = "application/vnd.conjure.turn.v1+json"

_REFRESH_SECONDS = 0.15
"""Minimum time between two live updates of streamed text; tool events update at once."""

_STOP_REASONS = {
    "max_tokens": "the answer reached max_tokens and was cut off",
    "refusal": "the model declined to answer",
    "model_context_window_exceeded": "the conversation no longer fits the model's context window",
    "stop_sequence": "a stop sequence was reached",
    "pause_turn": "the server paused the turn",
}

_markdown = mistune.create_markdown(escape=True, plugins=["table", "strikethrough"])


@dataclass
class _Tool:
    call: ToolCall
    result: ToolResult | None = None


@dataclass
class _Items:
    """The turn in the order the user saw it: text runs and tool calls."""

    entries: list[str | _Tool] = field(default_factory=list)

    def add_text(self, text: str) -> None:
        if self.entries and isinstance(self.entries[-1], str):
            self.entries[-1] += text
        else:
            self.entries.append(text)

    def redacted(self, redact: Redact) -> _Items:
        """A copy with secrets removed from text, tool inputs and tool results."""
        entries: list[str | _Tool] = []
        for entry in self.entries:
            if isinstance(entry, str):
                entries.append(redact(entry))
                continue
            call = ToolCall(
                entry.call.id, entry.call.name, _redact_values(entry.call.input, redact)
            )
            result = entry.result and dataclasses.replace(
                entry.result, content=redact(entry.result.content)
            )
            entries.append(_Tool(call, result))
        return _Items(entries)

    @classmethod
    def from_record(cls, record: TurnRecord) -> _Items:
        results = {call.id: result for call, result in record.tool_calls}
        items = cls()
        for step in record.steps:
            for block in step.message["content"]:
                if block.get("type") == "text" and block.get("text"):
                    items.add_text(block["text"])
                elif block.get("type") == "tool_use":
                    call = ToolCall(block["id"], block["name"], block.get("input") or {})
                    items.entries.append(_Tool(call, results.get(call.id)))
        return items


Redact = Callable[[str], str]


class LiveTurnView:
    """Shows a running turn in one display area and replaces it with the saved bundle."""

    def __init__(self, redact: Redact) -> None:
        self._redact = redact
        self._items = _Items()
        self._tools: dict[str, _Tool] = {}
        self._header = ""
        self._handle: Any = None
        self._last_refresh = 0.0

    def update(self, event: Event) -> None:
        if isinstance(event, TurnStarted):
            self._header = f"{event.model} · {event.backend} backend"
        elif isinstance(event, TextDelta):
            self._items.add_text(event.text)
            if time.monotonic() - self._last_refresh < _REFRESH_SECONDS:
                return
        elif isinstance(event, ToolCallStarted):
            tool = self._tools[event.call.id] = _Tool(event.call)
            self._items.entries.append(tool)
        elif isinstance(event, ToolCallFinished):
            self._tools[event.call.id].result = event.result
        else:
            return
        self._show(self._live_bundle())

    def finish(self, record: TurnRecord | None) -> None:
        """Replace the live view with the turn's saved bundle."""
        if record is not None:
            self._show(turn_bundle(record, self._redact))

    def _live_bundle(self) -> dict[str, Any]:
        items = self._items.redacted(self._redact)
        footer = _footer(self._redact(self._header) + " · running…")
        return {
            "text/html": f'<div class="conjure-turn">{_render_html(items, running=True)}{footer}</div>',
            "text/plain": _render_plain(items),
        }

    def _show(self, bundle: dict[str, Any]) -> None:
        self._last_refresh = time.monotonic()
        if self._handle is None:
            self._handle = display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)


def turn_bundle(record: TurnRecord, redact: Redact) -> dict[str, Any]:
    """The MIME bundle saved for a finished (or failed) turn.

    Secrets are removed from the record's values before anything is serialised or
    escaped, so no encoding can hide a secret from the redactor.
    """
    payload = _redact_values(record.to_json(), redact)
    clean = TurnRecord.from_json(payload)
    items = _Items.from_record(clean)
    if not clean.steps and clean.answer:
        items.add_text(clean.answer)
    footer = _summary(clean)
    html_body = _render_html(items, running=False) + _render_problems_html(clean) + _footer(footer)
    markdown = _render_markdown(items) + _render_problems_markdown(clean) + f"\n\n*{footer}*\n"
    return {
        TURN_MIME_TYPE: payload,
        "text/html": f'<div class="conjure-turn">{html_body}</div>',
        "text/markdown": markdown,
        "text/plain": _render_plain(items),
    }


def _redact_values(value: Any, redact: Redact) -> Any:
    """A copy of a JSON value with ``redact`` applied to every string in it."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redact_values(item, redact) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact_values(item, redact) for item in value]
    return value


def _summary(record: TurnRecord) -> str:
    usage = record.usage
    tokens = f"{usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens:,} in"
    if usage.cache_read_input_tokens:
        tokens += f" ({usage.cache_read_input_tokens:,} from cache)"
    parts = [record.model, f"{record.backend} backend", f"{tokens} / {usage.output_tokens:,} out"]
    if record.replayed:
        parts.append("replayed from the recording")
    if record.stop_reason not in (None, "end_turn", "tool_use"):
        parts.append(f"stopped: {_STOP_REASONS.get(record.stop_reason, record.stop_reason)}")
    return " · ".join(parts)


def _tool_title(tool: _Tool) -> str:
    detail = (
        tool.call.input.get("description")
        or tool.call.input.get("command")
        or tool.call.input.get("path")
        or ""
    )
    title = f"{tool.call.name} {str(detail).splitlines()[0] if detail else ''}".strip()
    if tool.result is None:
        return f"{title} · running…"
    status = "error" if tool.result.is_error else "ok"
    if tool.result.exit_code is not None:
        status = f"exit {tool.result.exit_code}"
    return f"{title} · {status} · {tool.result.duration:.2f} s"


def _tool_input(call: ToolCall) -> str:
    shown = {key: value for key, value in call.input.items() if key != "description"}
    if set(shown) == {"command"}:
        return str(shown["command"])
    return json.dumps(shown, indent=1, ensure_ascii=False)


def _render_html(items: _Items, *, running: bool) -> str:
    parts = []
    for entry in items.entries:
        if isinstance(entry, str):
            parts.append(f'<div class="conjure-answer">{_markdown(entry)}</div>')
            continue
        state = "running" if entry.result is None else ("error" if entry.result.is_error else "ok")
        colour = {"running": "#b58900", "error": "#c0392b", "ok": "#2e7d32"}[state]
        result = (
            ""
            if entry.result is None
            else f'<pre class="conjure-tool-result" style="border-top:1px dashed;padding-top:4px">'
            f"{html.escape(entry.result.content)}</pre>"
        )
        parts.append(
            f'<details class="conjure-tool conjure-{state}" style="border-left:3px solid {colour};'
            f'padding-left:6px;margin:4px 0"{" open" if running and entry.result is None else ""}>'
            f"<summary><code>{html.escape(_tool_title(entry))}</code></summary>"
            f'<pre class="conjure-tool-input">{html.escape(_tool_input(entry.call))}</pre>{result}</details>'
        )
    return "".join(parts)


def _render_markdown(items: _Items) -> str:
    parts = []
    for entry in items.entries:
        if isinstance(entry, str):
            parts.append(entry.strip())
        else:
            result = "" if entry.result is None else entry.result.content
            parts.append(
                f"**{_tool_title(entry)}**\n\n```\n{_tool_input(entry.call)}\n```\n\n```\n{result}\n```"
            )
    return "\n\n".join(parts)


def _render_plain(items: _Items) -> str:
    parts = []
    for entry in items.entries:
        parts.append(entry if isinstance(entry, str) else f"[{_tool_title(entry)}]")
    return "\n".join(parts)


def _render_problems_html(record: TurnRecord) -> str:
    out = ""
    if record.skills_changed:
        out += (
            '<div class="conjure-drift">skills changed since the recording: '
            f"{html.escape(', '.join(record.skills_changed))}</div>"
        )
    for drift in record.drift:
        out += (
            f'<div class="conjure-drift"><b>drift in {html.escape(drift["name"])}</b> '
            f"(the re-run result differs from the recording)<pre>{html.escape(drift['diff'])}</pre></div>"
        )
    if record.error:
        out += f'<div class="conjure-error" style="color:#c0392b"><b>{html.escape(record.error["error"])}</b>: {html.escape(record.error["message"])}</div>'
    return out


def _render_problems_markdown(record: TurnRecord) -> str:
    out = ""
    if record.skills_changed:
        out += f"\n\n*skills changed since the recording: {', '.join(record.skills_changed)}*"
    for drift in record.drift:
        out += f"\n\n**drift in {drift['name']}** (the re-run result differs from the recording)\n\n```diff\n{drift['diff']}\n```"
    if record.error:
        out += f"\n\n**{record.error['error']}**: {record.error['message']}"
    return out


def _footer(text: str) -> str:
    return (
        f'<div class="conjure-footer" style="opacity:0.6;font-size:85%">{html.escape(text)}</div>'
    )
