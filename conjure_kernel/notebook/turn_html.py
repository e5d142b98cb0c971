"""A turn as HTML: the rows of the live view, and the saved bundle's ``text/html``.

Split from display.py: both views draw a timeline's entries with the same HTML (answer
text as Markdown, a muted folded block per step's thinking, a collapsible block per tool
call, a line per notice, file and approval), and what follows it (drift, changed skills,
the error, the footer). Every label is worded by ``conversation.labels`` and marked
with a ``data-label`` attribute naming its kind, as the JupyterLab renderer marks its
own, so tests/golden can hold the two to the same labels; a tool's output is drawn from
the runs ``conversation.saved_output`` reads (colours kept), folded after its first lines.
"""

from __future__ import annotations

import html
import os
import textwrap

import mistune

from ..conversation.file_links import FileLinks, is_image
from ..conversation.labels import (
    approval_line,
    decision_of,
    error_labels,
    file_line,
    notice_line,
    problem_labels,
    thinking_line,
    tool_input,
    tool_title,
)
from ..conversation.saved_output import shown_output
from ..conversation.timeline import Timeline
from ..conversation.transcript import TurnRecord
from ..conversation.turn import (
    Entry,
    FileEntry,
    NoticeEntry,
    TextEntry,
    ThinkingEntry,
    ToolEntry,
)
from .ansi import ansi_to_html, runs_html

__all__ = [
    "answer_html",
    "entry_html",
    "footer_html",
    "live_answer_html",
    "live_html",
    "output_html",
    "problems_html",
    "thinking_html",
    "timeline_html",
]

_COLOURS = {
    "running": "#b58900",
    "ok": "#2e7d32",
    "error": "#c0392b",
    "interrupted": "#b58900",
    "denied": "#c0392b",
}


_markdown = mistune.create_markdown(escape=True, plugins=["table", "strikethrough"])


def timeline_html(timeline: Timeline, files: FileLinks, *, running: bool) -> str:
    return "".join(entry_html(entry, files, running=running) for entry in timeline.entries)


def entry_html(entry: Entry, files: FileLinks, *, running: bool) -> str:
    if isinstance(entry, TextEntry):
        return answer_html(entry.text)
    if isinstance(entry, ThinkingEntry):
        return thinking_html(entry)
    if isinstance(entry, ToolEntry):
        return _tool_html(entry, running=running)
    if isinstance(entry, NoticeEntry):
        return (
            f'<div class="conjure-notice conjure-{entry.level}" style="opacity:0.8">'
            f"{_label('notice', notice_line(entry))}</div>"
        )
    if isinstance(entry, FileEntry):
        return _file_html(entry, files)
    return (
        f'<div class="conjure-approval conjure-{decision_of(entry)}">'
        f"{_label('approval', approval_line(entry), 'i')}</div>"
    )


def answer_html(text: str) -> str:
    return f'<div class="conjure-answer">{_markdown(text)}</div>'


def thinking_html(thinking: ThinkingEntry, *, streaming: bool = False) -> str:
    """A step's thinking, muted: open while it streams, then folded under its length.
    Shown as plain text (not Markdown), so it stays one muted block wherever it is drawn."""
    opened = " open" if streaming else ""
    return (
        f'<details class="conjure-thinking" style="opacity:0.65;margin:4px 0"{opened}>'
        f"{_label('thinking', thinking_line(thinking, streaming=streaming), 'summary')}"
        '<div class="conjure-thinking-text" style="white-space:pre-wrap;font-size:90%">'
        f"{html.escape(thinking.text)}</div></details>"
    )


def live_answer_html(block: str) -> str:
    """A block of the answer on its own: dedented, since an indented block cut from a
    list item would otherwise render as code."""
    return live_html(answer_html(textwrap.dedent(block)))


def live_html(piece: str) -> str:
    """One piece of the live view, marked as the turn's (a browser test checks that
    none is left once the saved bundle replaced them)."""
    return f'<div class="conjure-turn">{piece}</div>'


def _label(kind: str, text: str, tag: str = "span") -> str:
    """A label's element: its kind in ``data-label``, its text (and nothing else) inside."""
    return f'<{tag} data-label="{kind}">{html.escape(text)}</{tag}>'


def _file_html(file: FileEntry, files: FileLinks) -> str:
    """The file's line, a link when the file lies in the notebook's folder, followed by
    the image itself for an image."""
    line = _label("file", file_line(file), "code")
    link = files.link(file.path)
    if link is None:
        return f'<div class="conjure-file">{line}</div>'
    href = html.escape(link)
    shown = f'<a href="{href}">{line}</a>'
    if is_image(file.path):
        name = html.escape(os.path.basename(file.path))
        shown += f'<br><img src="{href}" alt="{name}" style="max-width:100%">'
    return f'<div class="conjure-file">{shown}</div>'


def _tool_html(tool: ToolEntry, *, running: bool) -> str:
    result = "" if tool.result is None else output_html(tool.result.content)
    if tool.result is None and tool.printed:  # a running command's latest output
        result = f'<pre class="conjure-tool-output">{ansi_to_html(tool.printed)}</pre>'
    classes = f"conjure-tool conjure-{tool.state}" + (" conjure-server" if tool.server else "")
    opened = " open" if running and tool.state == "running" else ""
    return (
        f'<details class="{classes}" style="border-left:3px solid {_COLOURS[tool.state]};'
        f'padding-left:6px;margin:4px 0"{opened}>'
        f"<summary><code>{_label('title', tool_title(tool))}</code></summary>"
        f'<pre class="conjure-tool-input">{html.escape(tool_input(tool.call))}</pre>{result}</details>'
    )


_RESULT = '<pre class="conjure-tool-result" style="border-top:1px dashed;padding-top:4px;margin:0">'


def output_html(content: str) -> str:
    """A result's output in colour; past its first lines, the rest under "show all": the
    same fold live (the widget trace) and saved."""
    shown = shown_output(content)
    if shown.fold is None:
        return f"{_RESULT}{runs_html(shown.runs)}</pre>"
    rest = runs_html(shown.runs[shown.fold :])
    return (
        f"{_RESULT}{runs_html(shown.runs[: shown.fold])}</pre>"
        f'<details class="conjure-more">{_label("more", shown.more, "summary")}'
        f'<pre class="conjure-tool-result" style="margin:0">{rest}</pre></details>'
    )


def problems_html(record: TurnRecord) -> str:
    out = ""
    for problem in problem_labels(record):
        diff = f"<pre>{html.escape(problem['diff'])}</pre>" if "diff" in problem else ""
        out += f'<div class="conjure-drift">{_label("problem", problem["line"], "b")}{diff}</div>'
    error = error_labels(record)
    if error:
        hint = _label("hint", error["hint"], "div") if "hint" in error else ""
        out += (
            f'<div class="conjure-error" style="color:#c0392b">'
            f"{_label('error', error['line'], 'b')}{hint}</div>"
        )
    return out


def footer_html(text: str) -> str:
    return (
        '<div class="conjure-footer" style="opacity:0.6;font-size:85%">'
        f"{_label('footer', text)}</div>"
    )
