"""A turn as text: the saved bundle's ``text/markdown`` and ``text/plain``.

Split from display.py: the fallbacks a notebook shows where neither the JupyterLab
renderer nor HTML is available (GitHub, a terminal, ``jupyter nbconvert --to markdown``):
the timeline's entries, then drift, changed skills and the error. Every label is worded by
``conversation.labels``; in Markdown each is a paragraph of its own in emphasis (a tool's
title in bold), in plain text a line in brackets (the footer, last, is bare), so
tests/golden can find them. Plain text marks the error's hint ``hint: `` as the error a
cell raises does, since it has no emphasis or muted line to tell it from the error. A step's thinking is one short line here, never its text:
these are read straight through, where it cannot fold. A tool's output keeps its text,
its terminal colours and control sequences resolved away (``conversation.terminal``).
"""

from __future__ import annotations

import os
import re

from ..conversation.file_links import FileLinks, is_image
from ..conversation.labels import (
    approval_line,
    error_labels,
    file_line,
    footer_line,
    notice_line,
    problem_labels,
    thinking_line,
    tool_input,
    tool_title,
)
from ..conversation.terminal import plain_text
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

__all__ = [
    "emphasis",
    "entry_plain",
    "problems_markdown",
    "timeline_markdown",
    "turn_plain",
]


def timeline_markdown(timeline: Timeline, files: FileLinks) -> list[str]:
    parts = []
    for entry in timeline.entries:
        if isinstance(entry, TextEntry):
            parts.append(entry.text.strip())
        elif isinstance(entry, ThinkingEntry):
            parts.append(f"> {emphasis(thinking_line(entry))}")
        elif isinstance(entry, ToolEntry):
            part = f"**{_escape_markdown(tool_title(entry))}**\n\n{_fenced(tool_input(entry.call))}"
            if entry.result is not None:
                part += f"\n\n{_fenced(plain_text(entry.result.content))}"
            parts.append(part)
        elif isinstance(entry, FileEntry):
            parts.append(_file_markdown(entry, files))
        else:
            line = notice_line(entry) if isinstance(entry, NoticeEntry) else approval_line(entry)
            parts.append(emphasis(line))
    return parts


def _file_markdown(file: FileEntry, files: FileLinks) -> str:
    link = files.link(file.path)
    line = _escape_markdown(file_line(file))
    if link is None:
        return f"*{line}*"
    if is_image(file.path):
        name = _escape_markdown(os.path.basename(file.path))
        return f"*[{line}]({link})*\n\n![{name}]({link})"
    return f"*[{line}]({link})*"


def turn_plain(record: TurnRecord, *, error: bool = True) -> list[str]:
    """The turn's lines: its timeline, drift and changed skills, its error (unless
    ``error`` is false: a terminal prints the error the cell raises), the footer last."""
    lines = [entry_plain(entry) for entry in record.timeline.entries]
    lines += _problems_plain(record)
    if error:
        lines += _error_plain(record)
    return [*lines, footer_line(record)]


def entry_plain(entry: Entry) -> str:
    if isinstance(entry, TextEntry):
        return entry.text
    if isinstance(entry, ThinkingEntry):
        return f"[{thinking_line(entry)}]"
    if isinstance(entry, ToolEntry):
        return f"[{tool_title(entry)}]"
    if isinstance(entry, NoticeEntry):
        return f"[{notice_line(entry)}]"
    if isinstance(entry, FileEntry):
        return f"[{file_line(entry)}]"
    return f"[{approval_line(entry)}]"


def problems_markdown(record: TurnRecord) -> list[str]:
    parts = []
    for problem in problem_labels(record):
        part = emphasis(problem["line"])
        if "diff" in problem:
            part += f"\n\n{_fenced(problem['diff'], 'diff')}"
        parts.append(part)
    error = error_labels(record)
    if error:
        parts.append(f"**{_escape_markdown(error['line'])}**")
        if "hint" in error:
            parts.append(emphasis(error["hint"]))
    return parts


def _problems_plain(record: TurnRecord) -> list[str]:
    lines = []
    for problem in problem_labels(record):
        lines.append(f"[{problem['line']}]")
        if "diff" in problem:
            lines.append(problem["diff"])
    return lines


def _error_plain(record: TurnRecord) -> list[str]:
    error = error_labels(record)
    if not error:
        return []
    hint = [f"[hint: {error['hint']}]"] if "hint" in error else []
    return [f"[{error['line']}]", *hint]


def emphasis(line: str) -> str:
    """A label's paragraph: ``line`` in emphasis, its Markdown punctuation escaped."""
    return f"*{_escape_markdown(line)}*"


def _fenced(text: str, language: str = "") -> str:
    """A Markdown code block that no run of backticks inside ``text`` can close early."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"


_MARKUP = re.compile(r"[\\`*\[\]<$]|~(?=~)|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
"""What Markdown could read as markup in a one-line paragraph: a backslash, code, emphasis,
strikethrough (``~~``), links, HTML, a dollar (JupyterLab reads ``$…$`` as maths); an
underscore only at a word's edge (``bash_tool`` and ``~/notes`` stay as they are)."""


def _escape_markdown(text: str) -> str:
    """``text`` shown literally inside emphasis, with as few backslashes as that takes."""
    return _MARKUP.sub(lambda match: "\\" + match.group(), text)
