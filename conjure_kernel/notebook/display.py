"""Turn events into cell output: a live view while the turn runs, a saved bundle after.

Both draw the same turn model (``conversation.turn.Timeline``): the live view folds the
events it is given, the bundle reads the finished record's timeline. The saved bundle
holds the turn's record under ``TURN_MIME_TYPE`` (versioned, read by replay and by the
JupyterLab renderer) plus ``text/html``, ``text/markdown`` and ``text/plain``
fallbacks, so the notebook reads well anywhere, before any extension is installed.

The one-line labels (a tool call's title, a notice, a created file, an approval, an
error) are spelt the same way by the JupyterLab renderer (``labextension/src``), and
tests/golden holds both sides to the same records.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import textwrap
import urllib.parse
from typing import Any

import mistune

from ..clients.pricing import Spend, spend_of
from ..conversation.transcript import TurnRecord
from ..conversation.turn import (
    ApprovalEntry,
    Entry,
    FileEntry,
    NoticeEntry,
    Redact,
    TextEntry,
    Timeline,
    ToolEntry,
)
from ..events import Event, ModelStepFinished, TextDelta, ToolOutput, TurnStarted
from ..tools.values import ToolCall
from .views import DisplayArea, EntryRow, LiveOutputs, StreamedMarkdown, Throttle

__all__ = ["TURN_MIME_TYPE", "LiveTurnView", "turn_bundle"]

TURN_MIME_TYPE = "application/vnd.conjure.turn.v1+json"

_STOP_REASONS = {
    "max_tokens": "the answer reached max_tokens and was cut off",
    "refusal": "the model declined to answer",
    "model_context_window_exceeded": "the conversation no longer fits the model's context window",
    "stop_sequence": "a stop sequence was reached",
    "pause_turn": "the server paused the turn",
}

_COLOURS = {
    "running": "#b58900",
    "ok": "#2e7d32",
    "error": "#c0392b",
    "interrupted": "#b58900",
    "denied": "#c0392b",
}

_markdown = mistune.create_markdown(escape=True, plugins=["table", "strikethrough"])


class LiveTurnView:
    """Shows a running turn as it happens, then leaves the saved bundle in its place.

    A ``TurnView`` (see ``views.py``). Each piece has its own display area, so a redraw
    sends what changed, never the turn so far: a status line; each finished block of
    text, its Markdown rendered once; the block being streamed, redrawn at most every
    ``views._REFRESH_SECONDS``; and a row per tool call, notice, created file and
    approval, redrawn when its state changes. A frontend without redraws (``jupyter
    console``) prints the status line, each block of text once it is finished, and one
    line per tool call as it starts.
    """

    def __init__(self, redact: Redact) -> None:
        self._redact = redact
        self._timeline = Timeline()
        self._outputs = LiveOutputs()
        self._files = _Files("", os.getcwd())
        self._header = ""
        self._model = ""
        self._spend = Spend()
        self._status: DisplayArea | None = None
        self._rows: list[EntryRow] = []
        self._text: StreamedMarkdown | None = None
        self._seen = 0
        """How many of the timeline's entries have their display areas."""
        self._printing = Throttle()

    def update(self, event: Event) -> None:
        if isinstance(event, TurnStarted):
            self._header = f"{event.model} · {event.backend} backend"
            self._model = event.model
            self._show_status()
        elif isinstance(event, ModelStepFinished):
            response = event.response
            self._spend = self._spend + spend_of(response.model or self._model, response.usage)
            self._show_status()
        elif self._timeline.add(event):
            self._follow(
                streamed=isinstance(event, TextDelta), printed=isinstance(event, ToolOutput)
            )

    def finish(self, record: TurnRecord | None) -> None:
        """Replace the live view with the turn's saved bundle."""
        self._end_text()
        if record is not None:
            clean = record.redacted(self._redact)
            self._outputs.replace(_bundle(clean, os.getcwd()), _summary(clean))

    def _follow(self, *, streamed: bool, printed: bool = False) -> None:
        """Give new entries their areas; redraw the text, and rows whose state changed
        (a streamed delta changes no row; a command's output redraws its row at most
        every ``views._REFRESH_SECONDS``)."""
        if printed and not self._printing.due():
            return
        entries = self._timeline.entries
        for entry in entries[self._seen :]:
            self._end_text()
            if isinstance(entry, TextEntry):
                self._text = StreamedMarkdown(self._outputs, self._block_bundle)
            else:
                self._rows.append(EntryRow(entry, self._outputs.add(self._row_bundle(entry))))
        self._seen = len(entries)
        last = entries[-1] if entries else None
        if self._text is not None and isinstance(last, TextEntry):
            self._text.follow(last.text)
        if not streamed:
            for row in self._rows:
                if row.changed():
                    row.area.show(self._row_bundle(row.entry))

    def _end_text(self) -> None:
        if self._text is not None:
            self._text.end()
            self._text = None

    def _block_bundle(self, block: str, *, finished: bool) -> dict[str, Any]:
        """A block of the answer; only a finished one has ``text/plain``, so a terminal
        prints each block once, whole."""
        clean = self._redact(block)
        bundle = {"text/html": _live_answer_html(clean)}
        if finished:
            bundle["text/plain"] = clean + "\n"  # a blank line after it, as in Markdown
        return bundle

    def _row_bundle(self, entry: Entry) -> dict[str, Any]:
        clean = entry.redacted(self._redact)
        html_row = _entry_html(clean, self._files, running=True)
        return {"text/html": _live_html(html_row), "text/plain": _entry_plain(clean)}

    def _show_status(self) -> None:
        spent = f" · {self._spend.short()} so far" if self._spend.tokens else ""
        line = self._redact(self._header) + f" · running…{spent}"
        bundle = {"text/html": _live_html(_footer_html(line)), "text/plain": line}
        if self._status is None:
            self._status = self._outputs.add(bundle)
        else:
            self._status.show(bundle)


def turn_bundle(record: TurnRecord, redact: Redact, *, folder: str | None = None) -> dict[str, Any]:
    """The MIME bundle saved for a finished (or failed) turn, with secrets removed.

    The record is redacted once, as values, before anything is serialised or escaped,
    so every part of the bundle is drawn from the same clean copy. Files the turn
    created under ``folder`` (the notebook's folder; by default the kernel's working
    directory, which JupyterLab sets to it) are linked relative to it, images inline.
    """
    return _bundle(record.redacted(redact), os.getcwd() if folder is None else folder)


def _bundle(clean: TurnRecord, folder: str) -> dict[str, Any]:
    """``turn_bundle`` of a record already redacted."""
    files = _Files(clean.paths.get("workdir", ""), folder)
    footer = _summary(clean)
    html_body = (
        _timeline_html(clean.timeline, files, running=False)
        + _problems_html(clean)
        + _footer_html(footer)
    )
    markdown = "\n\n".join(
        [*_timeline_markdown(clean.timeline, files), *_problems_markdown(clean), f"*{footer}*"]
    )
    return {
        TURN_MIME_TYPE: clean.to_json(),
        "text/html": f'<div class="conjure-turn">{html_body}</div>',
        "text/markdown": markdown + "\n",
        "text/plain": "\n".join([*_timeline_plain(clean.timeline), *_problems_plain(clean)]),
    }


# -- one-line labels, spelt the same in labextension/src/turnView.ts ----------------------


def _tool_title(tool: ToolEntry) -> str:
    """``name detail · status · duration · on the server``: the tool call's summary line."""
    parts = [_call_title(tool.call), _tool_status(tool)]
    if tool.result is not None and tool.state in ("ok", "error"):
        parts.append(_duration(tool.result.duration))
    if tool.server:
        parts.append("on the server")
    return " · ".join(parts)


def _duration(seconds: float) -> str:
    """``<1 ms``, ``250 ms``, ``2.50 s``: rounded half up from integers, as JavaScript's
    ``Math.round`` does, so both renderers write the same digits for every value."""
    ms = math.floor(seconds * 1000 + 0.5)
    if ms < 1:
        return "<1 ms"
    if ms < 1000:
        return f"{ms} ms"
    centiseconds = math.floor(seconds * 100 + 0.5)
    return f"{centiseconds // 100}.{centiseconds % 100:02d} s"


def _notice_line(notice: NoticeEntry) -> str:
    return f"{'warning' if notice.level == 'warning' else 'notice'}: {notice.text}"


def _file_line(file: FileEntry) -> str:
    return f"created {file.path}"


_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp")
"""Files shown inline as images; ``IMAGE_SUFFIXES`` in turnView.ts lists the same."""


class _Files:
    """Where created files can be linked from: the notebook's folder on the host."""

    def __init__(self, workdir: str, folder: str) -> None:
        self.workdir = workdir
        """The session's workspace: a relative file path is relative to it."""
        self.folder = folder

    def link(self, path: str) -> str | None:
        """``path`` as a URL relative to the folder (percent-encoded, so never a scheme
        or a Markdown delimiter); None when the file lies outside it."""
        full = os.path.join(self.workdir, path) if self.workdir else path
        if not os.path.isabs(full) or not self.folder:
            return None
        try:
            relative = os.path.relpath(os.path.normpath(full), os.path.normpath(self.folder))
        except ValueError:  # another drive on Windows
            return None
        parts = relative.split(os.sep)
        if relative == os.curdir or parts[0] == os.pardir:
            return None
        return "/".join(urllib.parse.quote(part, safe="") for part in parts)


def _is_image(path: str) -> bool:
    return path.lower().endswith(_IMAGE_SUFFIXES)


def _approval_line(approval: ApprovalEntry) -> str:
    """``approval for name detail: prompt · allowed (reason)``; "asked" while undecided."""
    asked = f"approval for {_call_title(approval.call)}"
    if approval.prompt:
        asked += f": {approval.prompt}"
    decision = _decision(approval)
    if approval.reason:
        decision += f" ({approval.reason})"
    return f"{asked} · {decision}"


def _decision(approval: ApprovalEntry) -> str:
    return {None: "asked", True: "allowed", False: "denied"}[approval.allowed]


def _call_title(call: ToolCall) -> str:
    detail = next(
        (
            call.input[key]
            for key in ("description", "path", "command", "code")
            if call.input.get(key)
        ),
        "",
    )
    return f"{call.name} {str(detail).splitlines()[0] if detail else ''}".strip()


def _tool_status(tool: ToolEntry) -> str:
    if tool.state == "running":
        return "running…"
    if tool.state in ("ok", "error") and tool.result and tool.result.exit_code is not None:
        return f"exit {tool.result.exit_code}"
    return tool.state


def _tool_input(call: ToolCall) -> str:
    shown = {key: value for key, value in call.input.items() if key != "description"}
    if set(shown) == {"command"}:
        return str(shown["command"])
    return json.dumps(shown, indent=1, ensure_ascii=False)


# -- renderings of the timeline --------------------------------------------------------


def _timeline_html(timeline: Timeline, files: _Files, *, running: bool) -> str:
    return "".join(_entry_html(entry, files, running=running) for entry in timeline.entries)


def _entry_html(entry: Entry, files: _Files, *, running: bool) -> str:
    if isinstance(entry, TextEntry):
        return _answer_html(entry.text)
    if isinstance(entry, ToolEntry):
        return _tool_html(entry, running=running)
    if isinstance(entry, NoticeEntry):
        return (
            f'<div class="conjure-notice conjure-{entry.level}" style="opacity:0.8">'
            f"{html.escape(_notice_line(entry))}</div>"
        )
    if isinstance(entry, FileEntry):
        return _file_html(entry, files)
    return (
        f'<div class="conjure-approval conjure-{_decision(entry)}">'
        f"<i>{html.escape(_approval_line(entry))}</i></div>"
    )


def _answer_html(text: str) -> str:
    return f'<div class="conjure-answer">{_markdown(text)}</div>'


def _live_answer_html(block: str) -> str:
    """A block of the answer on its own: dedented, since an indented block cut from a
    list item would otherwise render as code."""
    return _live_html(_answer_html(textwrap.dedent(block)))


def _live_html(piece: str) -> str:
    """One piece of the live view, marked as the turn's (a browser test checks that
    none is left once the saved bundle replaced them)."""
    return f'<div class="conjure-turn">{piece}</div>'


def _file_html(file: FileEntry, files: _Files) -> str:
    """``created PATH``: a link when the file lies in the notebook's folder, followed
    by the image itself for an image."""
    code = f"<code>{html.escape(file.path)}</code>"
    link = files.link(file.path)
    if link is None:
        return f'<div class="conjure-file">created {code}</div>'
    href = html.escape(link)
    shown = f'created <a href="{href}">{code}</a>'
    if _is_image(file.path):
        name = html.escape(os.path.basename(file.path))
        shown += f'<br><img src="{href}" alt="{name}" style="max-width:100%">'
    return f'<div class="conjure-file">{shown}</div>'


def _tool_html(tool: ToolEntry, *, running: bool) -> str:
    result = (
        ""
        if tool.result is None
        else f'<pre class="conjure-tool-result" style="border-top:1px dashed;padding-top:4px">'
        f"{html.escape(tool.result.content)}</pre>"
    )
    if tool.result is None and tool.printed:  # a running command's latest output
        result = f'<pre class="conjure-tool-output">{html.escape(tool.printed)}</pre>'
    classes = f"conjure-tool conjure-{tool.state}" + (" conjure-server" if tool.server else "")
    opened = " open" if running and tool.state == "running" else ""
    return (
        f'<details class="{classes}" style="border-left:3px solid {_COLOURS[tool.state]};'
        f'padding-left:6px;margin:4px 0"{opened}>'
        f"<summary><code>{html.escape(_tool_title(tool))}</code></summary>"
        f'<pre class="conjure-tool-input">{html.escape(_tool_input(tool.call))}</pre>{result}</details>'
    )


def _timeline_markdown(timeline: Timeline, files: _Files) -> list[str]:
    parts = []
    for entry in timeline.entries:
        if isinstance(entry, TextEntry):
            parts.append(entry.text.strip())
        elif isinstance(entry, ToolEntry):
            part = f"**{_tool_title(entry)}**\n\n{_fenced(_tool_input(entry.call))}"
            if entry.result is not None:
                part += f"\n\n{_fenced(entry.result.content)}"
            parts.append(part)
        elif isinstance(entry, FileEntry):
            parts.append(_file_markdown(entry, files))
        else:
            line = _notice_line(entry) if isinstance(entry, NoticeEntry) else _approval_line(entry)
            parts.append(f"*{_escape_markdown(line)}*")
    return parts


def _file_markdown(file: FileEntry, files: _Files) -> str:
    link = files.link(file.path)
    if link is None:
        return f"created `{file.path}`"
    if _is_image(file.path):
        return (
            f"created `{file.path}`\n\n![{_escape_markdown(os.path.basename(file.path))}]({link})"
        )
    return f"created [`{file.path}`]({link})"


def _timeline_plain(timeline: Timeline) -> list[str]:
    return [_entry_plain(entry) for entry in timeline.entries]


def _entry_plain(entry: Entry) -> str:
    if isinstance(entry, TextEntry):
        return entry.text
    if isinstance(entry, ToolEntry):
        return f"[{_tool_title(entry)}]"
    if isinstance(entry, NoticeEntry):
        return f"[{_notice_line(entry)}]"
    if isinstance(entry, FileEntry):
        return f"[{_file_line(entry)}]"
    return f"[{_approval_line(entry)}]"


# -- what follows the timeline: drift, changed skills, the error, the footer ----------------


def _problems_html(record: TurnRecord) -> str:
    out = ""
    if record.skills_changed:
        out += (
            '<div class="conjure-drift">skills changed since the recording: '
            f"{html.escape(', '.join(record.skills_changed))}</div>"
        )
    if record.environment_changed:
        out += (
            '<div class="conjure-drift">the tools run on another environment than recorded: '
            f"{html.escape('; '.join(record.environment_changed))}</div>"
        )
    for drift in record.drift:
        out += (
            f'<div class="conjure-drift"><b>drift in {html.escape(drift["name"])}</b> '
            f"(the re-run result differs from the recording)<pre>{html.escape(drift['diff'])}</pre></div>"
        )
    if record.error:
        hint = record.error.get("hint")
        out += (
            f'<div class="conjure-error" style="color:#c0392b"><b>{html.escape(record.error["error"])}</b>: '
            f"{html.escape(record.error['message'])}"
            + (f'<div class="conjure-error-hint">{html.escape(hint)}</div>' if hint else "")
            + "</div>"
        )
    return out


def _problems_markdown(record: TurnRecord) -> list[str]:
    parts = []
    if record.skills_changed:
        parts.append(f"*skills changed since the recording: {', '.join(record.skills_changed)}*")
    if record.environment_changed:
        changed = _escape_markdown("; ".join(record.environment_changed))
        parts.append(f"*the tools run on another environment than recorded: {changed}*")
    for drift in record.drift:
        parts.append(
            f"**drift in {drift['name']}** (the re-run result differs from the recording)\n\n"
            f"{_fenced(drift['diff'], 'diff')}"
        )
    if record.error:
        error = f"**{record.error['error']}**: {record.error['message']}"
        if record.error.get("hint"):
            error += f"\n\n*{_escape_markdown(record.error['hint'])}*"
        parts.append(error)
    return parts


def _problems_plain(record: TurnRecord) -> list[str]:
    lines = []
    if record.skills_changed:
        lines.append(f"skills changed since the recording: {', '.join(record.skills_changed)}")
    if record.environment_changed:
        changed = "; ".join(record.environment_changed)
        lines.append(f"the tools run on another environment than recorded: {changed}")
    for drift in record.drift:
        lines.append(f"drift in {drift['name']} (the re-run result differs from the recording)")
        lines.append(drift["diff"])
    if record.error:
        lines.append(f"{record.error['error']}: {record.error['message']}")
        if record.error.get("hint"):
            lines.append(record.error["hint"])
    return lines


def _summary(record: TurnRecord) -> str:
    usage = record.usage
    tokens = f"{usage.all_input:,} in"
    if usage.cache_read_input_tokens:
        tokens += f" ({usage.cache_read_input_tokens:,} from cache)"
    parts = [record.model, f"{record.backend} backend", f"{tokens} / {usage.output_tokens:,} out"]
    if record.spend is not None and record.total_spend is not None:
        parts.append(
            f"{record.spend.short()} this turn, {record.total_spend.short()} in this notebook"
        )
    if record.replayed:
        parts.append("replayed from the recording")
    if record.stop_reason not in (None, "end_turn", "tool_use"):
        parts.append(f"stopped: {_STOP_REASONS.get(record.stop_reason, record.stop_reason)}")
    return " · ".join(parts)


def _footer_html(text: str) -> str:
    return (
        f'<div class="conjure-footer" style="opacity:0.6;font-size:85%">{html.escape(text)}</div>'
    )


def _fenced(text: str, language: str = "") -> str:
    """A Markdown code block that no run of backticks inside ``text`` can close early."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def _escape_markdown(text: str) -> str:
    """``text`` shown literally inside emphasis: Markdown's punctuation escaped."""
    return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", text)
