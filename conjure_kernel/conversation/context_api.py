"""The API's side of making room: the context edits a request asks for, the compaction
blocks the answers carry, and what the API says it did, in words.

Split from context.py, which decides between the API's edits and the kernel's own.
Facts from the installed SDK's beta types: the edits ``clear_tool_uses_20250919`` and
``compact_20260112`` (``BetaContextManagementConfigParam``), the ``compaction`` block
(``BetaCompactionBlock``: a block with ``content: null`` is a failed compaction, a
no-op), and the API's rules for sending one back: first in the conversation
(``compaction_block_misplaced``), only the latest (``compaction_block_ambiguous``),
never on a request that ends with an unfinished assistant turn
(``compaction_incomplete_turn``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..clients.model_facts import Supports

__all__ = [
    "CLEAR_AT",
    "COMPACT_AT",
    "CONTEXT_BETAS",
    "KEEP_RESULTS",
    "api_edits",
    "applied_words",
    "edits_taken",
    "from_compaction",
    "is_compaction",
    "last_compaction",
    "tokens",
    "without_compaction",
]

CLEAR_AT = 0.5
"""Share of the window past which old tool results are cleared."""
COMPACT_AT = 0.7
"""Share of the window past which the API compacts the earlier turns."""
KEEP_RESULTS = 4
"""Tool results kept whole when the older ones are cleared: the ones the model is using."""
CONTEXT_BETAS = ("context-management-2025-06-27", "compact-2026-01-12")
_CLEAR = "clear_tool_uses_20250919"
_COMPACT = "compact_20260112"


def tokens(count: float) -> str:
    """``112k``, ``1.2M``, ``640``: a token count for a notice."""
    if count >= 1_000_000:
        return f"{count / 1_000_000:.3g}M"
    return f"{count / 1000:.3g}k" if count >= 1000 else f"{count:.0f}"


def edits_taken(supports: Supports) -> tuple[str, ...]:
    """The edits the kernel asks of a model: none unless it is known to edit, and of
    ours only those its listing names, when it names them."""
    if supports.context_editing is not True:
        return ()
    ours = (_CLEAR, _COMPACT)
    return ours if supports.edits is None else tuple(e for e in ours if e in supports.edits)


def api_edits(
    window: int, taken: Sequence[str], messages: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The ``context_management.edits`` of one request: clearing past ``CLEAR_AT`` of the
    window, compaction past ``COMPACT_AT`` (left out of a request that continues an
    unfinished assistant turn, a hosted pause, which the API will not compact)."""
    edits: list[dict[str, Any]] = []
    if _CLEAR in taken:
        edits.append(
            {
                "type": _CLEAR,
                "trigger": {"type": "input_tokens", "value": int(CLEAR_AT * window)},
                "keep": {"type": "tool_uses", "value": KEEP_RESULTS},
                "clear_at_least": {"type": "input_tokens", "value": int(0.05 * window)},
            }
        )
    unfinished = bool(messages) and messages[-1].get("role") == "assistant"
    if _COMPACT in taken and not unfinished:
        edits.append(
            {
                "type": _COMPACT,
                "trigger": {"type": "input_tokens", "value": int(COMPACT_AT * window)},
            }
        )
    return edits


def is_compaction(block: Any) -> bool:
    """A compaction block that holds a summary (one with ``content: null`` is a no-op)."""
    return (
        isinstance(block, Mapping)
        and block.get("type") == "compaction"
        and bool(block.get("content"))
    )


def last_compaction(messages: Sequence[Mapping[str, Any]]) -> tuple[int, int] | None:
    """(message index, block index) of the last compaction block with a summary."""
    for index in range(len(messages) - 1, -1, -1):
        content = messages[index].get("content")
        if messages[index].get("role") != "assistant" or not isinstance(content, list):
            continue
        for position in range(len(content) - 1, -1, -1):
            if is_compaction(content[position]):
                return index, position
    return None


def from_compaction(
    messages: Sequence[Mapping[str, Any]], found: tuple[int, int]
) -> list[Mapping[str, Any]]:
    """``messages`` from the compaction block at ``found`` on, that block first."""
    index, position = found
    first = {**messages[index], "content": list(messages[index]["content"])[position:]}
    return [first, *messages[index + 1 :]]


def without_compaction(messages: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """``messages`` without compaction blocks, for a request that cannot carry them."""
    edited: list[Mapping[str, Any]] = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list) and any(is_compaction(block) for block in content):
            kept = [block for block in content if not is_compaction(block)]
            message = {**message, "content": kept or [{"type": "text", "text": "(compacted)"}]}
        edited.append(message)
    return edited


def applied_words(edit: Mapping[str, Any]) -> str:
    """An edit the API reported, in words."""
    freed = f", ~{tokens(int(edit.get('cleared_input_tokens') or 0))} tokens"
    if edit.get("type") == _CLEAR:
        return f"the API cleared {edit.get('cleared_tool_uses', 0)} earlier tool results{freed}"
    if edit.get("type") == "clear_thinking_20251015":
        turns = edit.get("cleared_thinking_turns", 0)
        return f"the API cleared the thinking of {turns} earlier turns{freed}"
    return f"the API edited the context ({edit.get('type', 'unknown edit')}){freed}"
