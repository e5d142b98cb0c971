"""Every label a person reads about a turn, worded once: here, where the record is saved.

A tool call's title (its name and detail, state or exit code, duration, where it ran),
a step's thinking, a notice, a created file, an approval, the footer (model, backend,
tokens, spend, an unusual stop), drift and the error. The live views and the saved
bundle's HTML, Markdown and plain text call these functions; the saved record carries
what they return (``entry_labels``, ``record_labels``), so the JupyterLab renderer lays
the labels out and words none of them, and every rendering reads the same.

They live in the conversation layer, beside the record, rather than in the notebook's
renderers: the record is where the labels are saved, and it may not reach up into the
notebook. The notebook keeps only how each format draws them.
"""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING, Any

from ..tools.values import ToolCall
from .file_links import FileLinks, is_image
from .saved_output import shown_output
from .turn import ApprovalEntry, Entry, FileEntry, NoticeEntry, ThinkingEntry, ToolEntry

if TYPE_CHECKING:
    from .transcript import TurnRecord

__all__ = [
    "SEPARATOR",
    "STOP_REASONS",
    "approval_line",
    "call_detail",
    "call_title",
    "decision_of",
    "duration",
    "entry_labels",
    "error_labels",
    "file_line",
    "footer_line",
    "footer_parts",
    "notice_line",
    "problem_labels",
    "record_labels",
    "thinking_line",
    "tool_input",
    "tool_parts",
    "tool_title",
]

STOP_REASONS = {
    "max_tokens": "the answer reached max_tokens and was cut off",
    "refusal": "the model declined to answer",
    "model_context_window_exceeded": "the conversation no longer fits the model's context window",
    "stop_sequence": "a stop sequence was reached",
    "pause_turn": "the server paused the turn",
}
"""The footer's words for a stop reason a person should notice."""

SEPARATOR = " · "
"""Between the parts of a title, an approval's line and the footer."""


def call_title(call: ToolCall) -> str:
    """``name detail``: the tool, and the first line of its description, path or command."""
    detail = call_detail(call)
    return f"{call.name} {detail}".strip()


def call_detail(call: ToolCall) -> str:
    """The first line of what says what a call is about: its description, path,
    command or code."""
    detail = next(
        (
            call.input[key]
            for key in ("description", "path", "command", "code")
            if call.input.get(key)
        ),
        "",
    )
    return str(detail).splitlines()[0].strip() if str(detail).strip() else ""


def tool_parts(tool: ToolEntry) -> dict[str, str]:
    """A tool call's title in parts: ``name``, ``detail``, ``status`` (``running…``,
    ``exit N``, or the state), and, when they apply, ``duration`` and ``where``."""
    parts = {"name": tool.call.name, "detail": call_detail(tool.call), "status": _status(tool)}
    if tool.result is not None and tool.state in ("ok", "error"):
        parts["duration"] = duration(tool.result.duration)
    if tool.backend:  # a hybrid session's call: the backend its route named
        parts["where"] = f"on {tool.backend}"
    elif tool.server:
        parts["where"] = "on the server"
    return parts


def tool_title(tool: ToolEntry) -> str:
    """``name detail · status · duration · on the server``: the tool call's summary line."""
    parts = tool_parts(tool)
    head = f"{parts['name']} {parts['detail']}".strip()
    tail = [parts[key] for key in ("status", "duration", "where") if key in parts]
    return SEPARATOR.join([head, *tail])


def _status(tool: ToolEntry) -> str:
    if tool.state == "running":
        return "running…"
    if tool.state in ("ok", "error") and tool.result and tool.result.exit_code is not None:
        return f"exit {tool.result.exit_code}"
    return tool.state


def duration(seconds: float) -> str:
    """``<1 ms``, ``250 ms``, ``2.50 s``: rounded half up (1.125 s reads 1.13 s)."""
    ms = math.floor(seconds * 1000 + 0.5)
    if ms < 1:
        return "<1 ms"
    if ms < 1000:
        return f"{ms} ms"
    centiseconds = math.floor(seconds * 100 + 0.5)
    return f"{centiseconds // 100}.{centiseconds % 100:02d} s"


_WORD = re.compile(r"\S+")


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


def approval_line(approval: ApprovalEntry) -> str:
    """``approval for name detail: prompt · allowed (reason)``; "asked" while undecided."""
    asked = f"approval for {call_title(approval.call)}"
    if approval.prompt:
        asked += f": {approval.prompt}"
    decision = decision_of(approval)
    if approval.reason:
        decision += f" ({approval.reason})"
    return f"{asked}{SEPARATOR}{decision}"


def decision_of(approval: ApprovalEntry) -> str:
    """``asked``, ``allowed`` or ``denied``."""
    return {None: "asked", True: "allowed", False: "denied"}[approval.allowed]


def tool_input(call: ToolCall) -> str:
    """What the call was given, as shown under its title: a command as itself, else JSON."""
    shown = {key: value for key, value in call.input.items() if key != "description"}
    if set(shown) == {"command"}:
        return str(shown["command"])
    return json.dumps(shown, indent=1, ensure_ascii=False)


def entry_labels(entry: Entry, links: FileLinks) -> dict[str, Any] | None:
    """What the saved record carries beside an entry, so no renderer words it (None
    for answer text, which is its own label)."""
    if isinstance(entry, ToolEntry):
        labels: dict[str, Any] = {"title": tool_title(entry), **tool_parts(entry)}
        if entry.result is not None:
            shown = shown_output(entry.result.content)
            if not shown.is_verbatim(entry.result.content):
                labels["output"] = shown.to_json()
        return labels
    if isinstance(entry, ThinkingEntry):
        return {"line": thinking_line(entry)}
    if isinstance(entry, NoticeEntry):
        return {"line": notice_line(entry)}
    if isinstance(entry, FileEntry):
        link = links.link(entry.path)
        if link is None:
            return {"line": file_line(entry)}
        return {"line": file_line(entry), "link": link, "image": is_image(entry.path)}
    if isinstance(entry, ApprovalEntry):
        return {"line": approval_line(entry), "decision": decision_of(entry)}
    return None


def footer_parts(record: TurnRecord) -> list[str]:
    """model · backend · tokens in (cache reads) / out · spend · replayed · unusual stop."""
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
        parts.append(f"stopped: {STOP_REASONS.get(record.stop_reason, record.stop_reason)}")
    return parts


def footer_line(record: TurnRecord) -> str:
    """The footer as one line: what a terminal prints last."""
    return SEPARATOR.join(footer_parts(record))


def problem_labels(record: TurnRecord) -> list[dict[str, str]]:
    """Changed skills, another environment, and each drift (its line and its diff)."""
    problems = []
    if record.skills_changed:
        changed = ", ".join(record.skills_changed)
        problems.append({"line": f"skills changed since the recording: {changed}"})
    if record.environment_changed:
        changed = "; ".join(record.environment_changed)
        problems.append({"line": f"the tools run on another environment than recorded: {changed}"})
    for drift in record.drift:
        line = f"drift in {drift['name']} (the re-run result differs from the recording)"
        problems.append({"line": line, "diff": drift["diff"]})
    return problems


def error_labels(record: TurnRecord) -> dict[str, str] | None:
    """``ErrorName: message``, and the hint when there is one."""
    if not record.error:
        return None
    labels = {"line": f"{record.error['error']}: {record.error['message']}"}
    if record.error.get("hint"):
        labels["hint"] = record.error["hint"]
    return labels


def record_labels(record: TurnRecord) -> dict[str, Any]:
    """The labels of the turn as a whole: its footer's parts, problems and error."""
    error = error_labels(record)
    return {
        "footer": footer_parts(record),
        "problems": problem_labels(record),
        **({} if error is None else {"error": error}),
    }
