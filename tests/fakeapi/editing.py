"""Context editing as the fake API applies it: the prompt the model reads, not the one sent.

A request's ``messages`` are what the client holds; the model reads less:

- ``from_last_compaction``: nothing before the last ``compaction`` block (with content)
  of an assistant message, which stands for all of it;
- ``clear_thinking``: the thinking of all but the last ``keep`` assistant messages that
  hold any (``clear_thinking_20251015``, default keep 1);
- ``clear_tool_uses``: once the prompt passes ``trigger`` (input tokens, default 100,000,
  or a number of tool uses), the results of all but the last ``keep`` tool uses (default
  3; ``exclude_tools`` spared) become ``CLEARED``, and their inputs ``{}`` where
  ``clear_tool_inputs`` says; nothing is cleared unless at least ``clear_at_least``
  tokens are freed (``clear_tool_uses_20250919``);
- ``summarize``: the deterministic stand-in for the summary a ``compact_20260112`` edit
  asks the model to write.

Each edit returns the edited messages and what it reports in ``applied_edits``, or
``None`` when it cleared nothing. Nothing here changes the request's own objects.

Where it departs from the API: a "thinking turn" is an assistant message holding a
thinking block; only client ``tool_use``/``tool_result`` pairs are cleared, not server
tool results; the placeholder's wording is the fake's own.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from .prompts import block_tokens, count_tokens

__all__ = [
    "CLEARED",
    "clear_thinking",
    "clear_tool_uses",
    "from_last_compaction",
    "last_compaction",
    "summarize",
]

CLEARED = "[tool result cleared to save context]"
"""What a cleared tool result reads."""
_THINKING = ("thinking", "redacted_thinking")
Messages = list[dict[str, Any]]


def from_last_compaction(messages: Sequence[Mapping[str, Any]]) -> tuple[Messages, int]:
    """The messages the model reads, from the last compaction block on, as a copy; and the
    index of the message that block is in (0 when there is none)."""
    found = last_compaction(messages)
    if found is None:
        return copy.deepcopy(list(messages)), 0
    i, j = found
    kept = {"role": "assistant", "content": messages[i]["content"][j:]}
    return copy.deepcopy([kept, *messages[i + 1 :]]), i


def last_compaction(messages: Sequence[Mapping[str, Any]]) -> tuple[int, int] | None:
    """(message index, block index) of the last compaction block of an assistant message."""
    for i in range(len(messages) - 1, -1, -1):
        content = messages[i].get("content")
        if messages[i].get("role") != "assistant" or not isinstance(content, list):
            continue
        for j in range(len(content) - 1, -1, -1):
            if _is_compaction(content[j]):
                return i, j
    return None


def _is_compaction(block: Any) -> bool:
    """A compaction block with a summary; one with ``content: null`` is a no-op."""
    return (
        isinstance(block, dict) and block.get("type") == "compaction" and bool(block.get("content"))
    )


def clear_thinking(messages: Messages, edit: Mapping[str, Any]) -> tuple[Messages, dict | None]:
    """``messages`` without the thinking of all but the last ``keep`` thinking turns."""
    keep = edit.get("keep") or {"type": "thinking_turns", "value": 1}
    if keep == "all" or keep.get("type") == "all":
        return messages, None
    turns = [i for i, m in enumerate(messages) if _thinking_blocks(m)]
    cleared = turns[: max(0, len(turns) - int(keep.get("value", 1)))]
    if not cleared:
        return messages, None
    messages = copy.deepcopy(messages)
    tokens = 0
    for i in cleared:
        tokens += sum(block_tokens("assistant", block) for block in _thinking_blocks(messages[i]))
        messages[i]["content"] = [
            b for b in messages[i]["content"] if b.get("type") not in _THINKING
        ]
    applied = {
        "type": "clear_thinking_20251015",
        "cleared_thinking_turns": len(cleared),
        "cleared_input_tokens": tokens,
    }
    return messages, applied


def _thinking_blocks(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    if message.get("role") != "assistant" or not isinstance(content, list):
        return []
    return [b for b in content if isinstance(b, dict) and b.get("type") in _THINKING]


def clear_tool_uses(
    prompt: Mapping[str, Any], edit: Mapping[str, Any]
) -> tuple[Messages, dict | None]:
    """``prompt``'s messages with the oldest tool results cleared, once its trigger is passed."""
    messages: Messages = list(prompt.get("messages") or [])
    uses = _tool_uses(messages)
    trigger = edit.get("trigger") or {"type": "input_tokens", "value": 100_000}
    size = len(uses) if trigger.get("type") == "tool_uses" else count_tokens(prompt)
    if size <= int(trigger["value"]):
        return messages, None
    spared = set(edit.get("exclude_tools") or ())
    candidates = [use for use in uses if use[2].get("name") not in spared]
    keep = int((edit.get("keep") or {"value": 3})["value"])
    oldest = candidates[: max(0, len(candidates) - keep)]
    edited = copy.deepcopy(messages)
    results = _results_by_id(edited)
    clear_inputs = edit.get("clear_tool_inputs") or False
    cleared = freed = 0
    for i, j, use in oldest:
        before = freed
        freed += _replace(
            edited[i]["content"], j, "assistant", "input", {}, _clears(clear_inputs, use)
        )
        if use.get("id") in results:
            k, m = results[use["id"]]
            freed += _replace(edited[k]["content"], m, "user", "content", CLEARED, True)
        cleared += freed > before
    at_least = int((edit.get("clear_at_least") or {"value": 0})["value"])
    if cleared == 0 or freed < at_least:
        return messages, None
    applied = {
        "type": "clear_tool_uses_20250919",
        "cleared_tool_uses": cleared,
        "cleared_input_tokens": freed,
    }
    return edited, applied


def _tool_uses(messages: Messages) -> list[tuple[int, int, dict[str, Any]]]:
    """(message index, block index, block) of each ``tool_use``, oldest first."""
    return [
        (i, j, block)
        for i, message in enumerate(messages)
        if message.get("role") == "assistant" and isinstance(message.get("content"), list)
        for j, block in enumerate(message["content"])
        if isinstance(block, dict) and block.get("type") == "tool_use"
    ]


def _results_by_id(messages: Messages) -> dict[str, tuple[int, int]]:
    return {
        block["tool_use_id"]: (i, j)
        for i, message in enumerate(messages)
        if message.get("role") == "user" and isinstance(message.get("content"), list)
        for j, block in enumerate(message["content"])
        if isinstance(block, dict) and block.get("type") == "tool_result"
    }


def _clears(clear_inputs: bool | Sequence[str], use: Mapping[str, Any]) -> bool:
    return clear_inputs is True or (
        not isinstance(clear_inputs, bool) and use.get("name") in clear_inputs
    )


def _replace(content: list, index: int, role: str, key: str, value: Any, wanted: bool) -> int:
    """Set ``content[index][key]`` to ``value`` if ``wanted`` and it frees tokens; how many."""
    block = content[index]
    if not wanted or block.get(key) == value:
        return 0
    replaced = {**block, key: value}
    freed = block_tokens(role, block) - block_tokens(role, replaced)
    if freed <= 0:  # already shorter than the placeholder: left as it is
        return 0
    content[index] = replaced
    return freed


def summarize(messages: Sequence[Mapping[str, Any]], instructions: str | None = None) -> str:
    """A stand-in summary of ``messages``: the first words of each thing the user said, and
    of the summary they already start from; the same messages give the same summary."""
    said = [_first_words(_text_of(m)) for m in messages if m.get("role") == "user"]
    earlier = [
        _first_words(block["content"])
        for m in messages
        for block in (m.get("content") if isinstance(m.get("content"), list) else [])
        if _is_compaction(block)
    ]
    parts = [f"Summary of {len(messages)} messages."]
    parts += [f"Earlier: {text}" for text in earlier]
    parts.append("The user said: " + " | ".join(text for text in said if text))
    if instructions:
        parts.append(f"Following: {instructions}")
    return " ".join(parts)


def _text_of(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    return " ".join(
        block.get("text", "")
        for block in content or []
        if isinstance(block, dict) and block.get("type") == "text"
    )


def _first_words(text: str, count: int = 8) -> str:
    return " ".join(text.split()[:count])
