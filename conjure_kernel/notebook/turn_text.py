"""A turn as text: the saved bundle's ``text/markdown`` and ``text/plain``.

Split from display.py: the fallbacks a notebook shows where neither the JupyterLab
renderer nor HTML is available (GitHub, a terminal, ``jupyter nbconvert --to markdown``):
the timeline's entries, then drift, changed skills and the error. A step's thinking is one
short line here, never its text: these are read straight through, where it cannot fold.
"""

from __future__ import annotations

import os
import re

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
from .turn_labels import (
    FileLinks,
    approval_line,
    file_line,
    is_image,
    notice_line,
    thinking_line,
    tool_input,
    tool_title,
)

__all__ = [
    "entry_plain",
    "problems_markdown",
    "problems_plain",
    "timeline_markdown",
    "timeline_plain",
]


def timeline_markdown(timeline: Timeline, files: FileLinks) -> list[str]:
    parts = []
    for entry in timeline.entries:
        if isinstance(entry, TextEntry):
            parts.append(entry.text.strip())
        elif isinstance(entry, ThinkingEntry):
            parts.append(f"> *{thinking_line(entry)}*")
        elif isinstance(entry, ToolEntry):
            part = f"**{tool_title(entry)}**\n\n{_fenced(tool_input(entry.call))}"
            if entry.result is not None:
                part += f"\n\n{_fenced(entry.result.content)}"
            parts.append(part)
        elif isinstance(entry, FileEntry):
            parts.append(_file_markdown(entry, files))
        else:
            line = notice_line(entry) if isinstance(entry, NoticeEntry) else approval_line(entry)
            parts.append(f"*{_escape_markdown(line)}*")
    return parts


def _file_markdown(file: FileEntry, files: FileLinks) -> str:
    link = files.link(file.path)
    if link is None:
        return f"created `{file.path}`"
    if is_image(file.path):
        return (
            f"created `{file.path}`\n\n![{_escape_markdown(os.path.basename(file.path))}]({link})"
        )
    return f"created [`{file.path}`]({link})"


def timeline_plain(timeline: Timeline) -> list[str]:
    return [entry_plain(entry) for entry in timeline.entries]


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


def problems_plain(record: TurnRecord) -> list[str]:
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


def _fenced(text: str, language: str = "") -> str:
    """A Markdown code block that no run of backticks inside ``text`` can close early."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def _escape_markdown(text: str) -> str:
    """``text`` shown literally inside emphasis: Markdown's punctuation escaped."""
    return re.sub(r"([\\`*_\[\]<>#|])", r"\\\1", text)
