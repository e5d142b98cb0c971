"""The one-line labels of a turn's entries, spelt the same in labextension/src/turnView.ts.

Split from display.py: a tool call's title, a step's thinking, a notice, a created file
(and where it can be linked from), an approval: every rendering (the live view, the saved
bundle's HTML, Markdown and plain text, the widgets, the JupyterLab renderer) writes them
alike, and tests/golden holds the Python and TypeScript sides to the same records.
"""

from __future__ import annotations

import json
import math
import os
import re
import urllib.parse

from ..conversation.turn import ApprovalEntry, FileEntry, NoticeEntry, ThinkingEntry, ToolEntry
from ..tools.values import ToolCall

__all__ = [
    "IMAGE_SUFFIXES",
    "FileLinks",
    "approval_line",
    "call_title",
    "decision_of",
    "duration",
    "file_line",
    "is_image",
    "notice_line",
    "thinking_line",
    "tool_input",
    "tool_title",
]


def tool_title(tool: ToolEntry) -> str:
    """``name detail · status · duration · on the server``: the tool call's summary line."""
    parts = [call_title(tool.call), _tool_status(tool)]
    if tool.result is not None and tool.state in ("ok", "error"):
        parts.append(duration(tool.result.duration))
    if tool.server:
        parts.append("on the server")
    return " · ".join(parts)


def duration(seconds: float) -> str:
    """``<1 ms``, ``250 ms``, ``2.50 s``: rounded half up from integers, as JavaScript's
    ``Math.round`` does, so both renderers write the same digits for every value."""
    ms = math.floor(seconds * 1000 + 0.5)
    if ms < 1:
        return "<1 ms"
    if ms < 1000:
        return f"{ms} ms"
    centiseconds = math.floor(seconds * 100 + 0.5)
    return f"{centiseconds // 100}.{centiseconds % 100:02d} s"


_WORD = re.compile(r"[^\s\ufeff]+")
"""A word of thinking: a run between spaces, where a space is what either Python's or
JavaScript's regular expressions call one (JavaScript's add U+FEFF, Python's U+001C to
U+001F and U+0085), so turnView.ts counts the same words."""


def thinking_line(thinking: ThinkingEntry, *, streaming: bool = False) -> str:
    """``thinking · 42 words``, the summary a step's folded thinking shows; ``thinking…``
    while it streams."""
    if streaming:
        return "thinking…"
    words = len(_WORD.findall(thinking.text))
    return f"thinking · {words} word{'' if words == 1 else 's'}"


def notice_line(notice: NoticeEntry) -> str:
    return f"{'warning' if notice.level == 'warning' else 'notice'}: {notice.text}"


def file_line(file: FileEntry) -> str:
    return f"created {file.path}"


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp")
"""Files shown inline as images; ``IMAGE_SUFFIXES`` in turnView.ts lists the same."""


class FileLinks:
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


def is_image(path: str) -> bool:
    return path.lower().endswith(IMAGE_SUFFIXES)


def approval_line(approval: ApprovalEntry) -> str:
    """``approval for name detail: prompt · allowed (reason)``; "asked" while undecided."""
    asked = f"approval for {call_title(approval.call)}"
    if approval.prompt:
        asked += f": {approval.prompt}"
    decision = decision_of(approval)
    if approval.reason:
        decision += f" ({approval.reason})"
    return f"{asked} · {decision}"


def decision_of(approval: ApprovalEntry) -> str:
    """``asked``, ``allowed`` or ``denied``."""
    return {None: "asked", True: "allowed", False: "denied"}[approval.allowed]


def call_title(call: ToolCall) -> str:
    """``name detail``: the tool, and the first line of its description, path or command."""
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


def tool_input(call: ToolCall) -> str:
    """What the call was given, as shown under its title: a command as itself, else JSON."""
    shown = {key: value for key, value in call.input.items() if key != "description"}
    if set(shown) == {"command"}:
        return str(shown["command"])
    return json.dumps(shown, indent=1, ensure_ascii=False)
