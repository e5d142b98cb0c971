"""The kernel's own context edits: what it sends in place of parts of a long conversation.

Used where the model has no context editing of its own in the API (context.py decides):
old tool results are replaced by a short placeholder, and the early conversation by a
digest of it. Each function reads the conversation and returns edited copies, so the
session keeps every message (``%history``, the notebook record and replay see them all)
and what is sent is derived again for each request from a few watermarks. The edits
keep the conversation valid: every ``tool_use`` keeps its ``tool_result``, and the
digest joins the first kept user message rather than standing as a message of its own.

The digest is written by the kernel, not the model: what each earlier turn asked, the
answer it ended with, and the tools it used, each cut to a bounded length. It costs no
request, so a replay derives the same digest without a recording of it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..clients.server_tools import SERVER_CALLS, server_call_name
from .images import IMAGE_ESTIMATE_CHARS, base64_images

__all__ = [
    "cleared_results",
    "clearing_point",
    "digest",
    "json_chars",
    "results_between",
    "turn_starts",
    "with_digest",
    "without_thinking",
]

THINKING_BLOCKS = frozenset({"thinking", "redacted_thinking"})
_ASKED_CHARS = 600
_ANSWER_CHARS = 1500
"""How much of each earlier turn's question and final answer the digest keeps."""


def json_chars(value: Any) -> int:
    """The length of ``value`` as JSON: what the token estimate is made from. An image
    counts as ``IMAGE_ESTIMATE_CHARS``, whatever the length of its base64."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if "image" not in text:
        return len(text)
    images, data_chars = base64_images(value)
    return len(text) - data_chars + images * IMAGE_ESTIMATE_CHARS


def is_turn_start(message: Mapping[str, Any]) -> bool:
    """A user message the person wrote (not one carrying tool results)."""
    if message.get("role") != "user":
        return False
    content = message.get("content")
    return isinstance(content, str) or not any(
        isinstance(block, Mapping) and block.get("type") == "tool_result" for block in content
    )


def turn_starts(messages: Sequence[Mapping[str, Any]]) -> list[int]:
    """The indices of the messages that open a turn, in order."""
    return [index for index, message in enumerate(messages) if is_turn_start(message)]


def _tool_results(messages: Sequence[Mapping[str, Any]]) -> Iterator[tuple[int, int]]:
    """(message index, block index) of each ``tool_result``, oldest first."""
    for index, message in enumerate(messages):
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, list):
            for position, block in enumerate(content):
                if isinstance(block, Mapping) and block.get("type") == "tool_result":
                    yield index, position


def clearing_point(messages: Sequence[Mapping[str, Any]], keep: int) -> int:
    """The message index before which every tool result may be cleared so that the last
    ``keep`` results stay whole."""
    results = list(_tool_results(messages))
    if len(results) <= keep:
        return 0
    return results[len(results) - keep][0] if keep else len(messages)


def results_between(messages: Sequence[Mapping[str, Any]], start: int, end: int) -> int:
    """How many tool results the messages from index ``start`` up to ``end`` hold."""
    return sum(start <= index < end for index, _ in _tool_results(messages))


def cleared_results(
    messages: Sequence[Mapping[str, Any]], before: int
) -> tuple[list[Mapping[str, Any]], int]:
    """``messages`` with the content of each tool result before index ``before`` replaced
    by a placeholder, and how many were replaced (placeholders already there do not count)."""
    edited: list[Mapping[str, Any]] = list(messages)
    cleared = 0
    for index, content in _contents_before(edited, before, "user"):
        blocks = []
        for block in content:
            if _clearable(block):
                block = {**block, "content": _placeholder(block.get("content"))}
                cleared += 1
            blocks.append(block)
        edited[index] = {**edited[index], "content": blocks}
    return edited, cleared


def _contents_before(
    messages: Sequence[Mapping[str, Any]], before: int, role: str
) -> Iterator[tuple[int, list[Any]]]:
    """(index, content) of the messages of ``role`` before index ``before`` that are lists
    of blocks: the ones an edit may rewrite."""
    for index in range(min(before, len(messages))):
        content = messages[index].get("content")
        if messages[index].get("role") == role and isinstance(content, list):
            yield index, content


def _clearable(block: Any) -> bool:
    return (
        isinstance(block, Mapping)
        and block.get("type") == "tool_result"
        and not str(block.get("content", "")).startswith(_PLACEHOLDER_START)
    )


_PLACEHOLDER_START = "[cleared to fit the context window"


def _placeholder(content: Any) -> str:
    return (
        f"{_PLACEHOLDER_START}: this result ({json_chars(content)} characters) was read "
        "earlier; run the tool again if it is needed]"
    )


def without_thinking(
    messages: Sequence[Mapping[str, Any]], before: int
) -> tuple[list[Mapping[str, Any]], int]:
    """``messages`` without the thinking blocks of the assistant messages before index
    ``before``, and how many were dropped. A message left empty says so in a text block."""
    edited: list[Mapping[str, Any]] = list(messages)
    dropped = 0
    for index, content in _contents_before(edited, before, "assistant"):
        kept = [
            b for b in content if not (isinstance(b, Mapping) and b.get("type") in THINKING_BLOCKS)
        ]
        if len(kept) != len(content):
            dropped += len(content) - len(kept)
            text = [{"type": "text", "text": "(thinking)"}]
            edited[index] = {**edited[index], "content": kept or text}
    return edited, dropped


def digest(messages: Sequence[Mapping[str, Any]], max_chars: int) -> str:
    """The kernel's summary of ``messages`` (whole turns), within about ``max_chars``:
    each turn's question, final answer and tools, the newest kept when all do not fit."""
    starts = turn_starts(messages)
    turns = [
        _turn_digest(number, messages[start:end])
        for number, (start, end) in enumerate(
            zip(starts, [*starts[1:], len(messages)], strict=True), start=1
        )
    ]
    kept: list[str] = []
    used = 0
    for text in reversed(turns):
        if used + len(text) > max_chars and kept:
            break
        kept.append(text)
        used += len(text)
    left_out = len(turns) - len(kept)
    head = (
        "[The kernel compacted the earlier part of this conversation to fit the context "
        f"window. What the {len(turns)} earlier turn(s) asked and answered, oldest first"
        + (f"; the {left_out} earliest are left out" if left_out else "")
        + ":]"
    )
    return "\n\n".join([head, *reversed(kept)])


def _turn_digest(number: int, turn: Sequence[Mapping[str, Any]]) -> str:
    asked = _texts(turn[0].get("content")) if turn else ""
    answers = [m for m in turn if m.get("role") == "assistant"]
    answer = _texts(answers[-1].get("content")) if answers else ""
    tools = sorted(
        {
            server_call_name(block)
            for message in answers
            for block in message.get("content") or []
            if isinstance(block, Mapping)
            and (block.get("type") == "tool_use" or block.get("type") in SERVER_CALLS)
        }
    )
    lines = [f"Turn {number}. Asked: {_cut(asked, _ASKED_CHARS)}"]
    if tools:
        lines.append(f"Tools used: {', '.join(tools)}")
    lines.append(f"Answered: {_cut(answer, _ANSWER_CHARS) or '(no text)'}")
    return "\n".join(lines)


def _texts(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(
        str(block.get("text", ""))
        for block in content or []
        if isinstance(block, Mapping) and block.get("type") == "text"
    )


def _cut(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def with_digest(
    messages: Sequence[Mapping[str, Any]], through: int, summary: str
) -> list[Mapping[str, Any]]:
    """``messages[through:]`` with ``summary`` as the first block of its first message,
    which must open a turn (a user message without tool results)."""
    first = messages[through]
    content = first.get("content")
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
    return [
        {**first, "content": [{"type": "text", "text": summary}, *blocks]},
        *messages[through + 1 :],
    ]
