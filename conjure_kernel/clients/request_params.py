"""The keyword arguments of one Messages API request, built from a ``ModelRequest``.

Split from anthropic_client.py: what a request carries (prompt-cache breakpoints, the task
budget, the code-execution tool types the SDK knows) is decided here, apart from sending
it. The caller's request is never mutated: marked messages are copies.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Mapping, Sequence
from typing import Any

import anthropic
from anthropic.resources.messages import AsyncMessages

from .base import ModelRequest
from .pricing import base_model

__all__ = [
    "CODE_EXECUTION_TOOLS",
    "TASK_BUDGET_BETA",
    "build_params",
    "code_execution_tools",
    "takes_task_budget",
]

CACHE_CONTROL = {"type": "ephemeral"}
MAX_BREAKPOINTS = 4
"""The API rejects a request with more ``cache_control`` breakpoints than this."""

_UNCACHEABLE_BLOCKS = frozenset({"thinking", "redacted_thinking"})
"""Block types the API refuses ``cache_control`` on."""
_PREVIOUS_END_REACH = 4
"""How far back from the end ``build_params`` looks for the latest assistant message.

The loops append at most an assistant message, its tool results (or an interrupted
step's repair) and a new user message after it, so it is always within reach.
"""
_STREAM_KEYWORDS = frozenset(inspect.signature(AsyncMessages.stream).parameters) - {
    "self",
    "extra_headers",
    "extra_query",
    "extra_body",
    "timeout",
}
"""API parameters the installed SDK's ``messages.stream`` takes as keywords (not request options)."""
TASK_BUDGET_BETA = "task-budgets-2026-03-13"
TASK_BUDGET_MODELS = frozenset(
    {
        "claude-fable-5-1",
        "claude-mythos-5-1",
        "claude-fable-5",
        "claude-mythos-5",
        "claude-opus-5-5",
        "claude-opus-5",
        "claude-opus-4-8",
        "claude-opus-4-7",
        "claude-sonnet-5-5",
        "claude-haiku-5-5",
    }
)
"""Models the task-budgets page lists (platform.claude.com/docs/en/build-with-claude/
task-budgets); another may refuse the field, and a budget is only advice, so it is left out."""
MIN_TASK_BUDGET = 20_000
"""The smallest ``total`` the API takes (reported by guides to the beta)."""


def code_execution_tools() -> tuple[str, ...]:
    """Every code-execution tool type the installed SDK defines, oldest first.

    Read from the SDK's own tool union rather than listed here, so a newer SDK offers
    its newer tool without a change to this package.
    """
    found = set()
    for member in typing.get_args(anthropic.types.ToolUnionParam):
        for value in typing.get_args(typing.get_type_hints(member).get("type")):
            if isinstance(value, str) and value.startswith("code_execution_"):
                found.add(value)
    return tuple(sorted(found))


CODE_EXECUTION_TOOLS = code_execution_tools()
"""``code_execution_20250522`` … ``code_execution_20260521``: the newest is the last."""


def build_params(request: ModelRequest) -> dict[str, Any]:
    """The ``messages.stream`` keyword arguments for ``request``, with cache breakpoints.

    The API caches the prompt prefix (tools, then system, then messages) up to each
    ``cache_control`` breakpoint, and reads an entry back only when it ends within the
    ~20 blocks that end at one of the request's breakpoints. One breakpoint at the end
    misses once a step adds that many (ten parallel tool calls are 20 blocks of
    ``tool_use`` and ``tool_result``), and all the messages are then paid again. So up
    to three breakpoints, of the four allowed:

    1. the system prompt: it covers the tools too, and is the same for every request
       of a session (and of other sessions with the same skills);
    2. the last cacheable block of the message that ended the previous request, the one
       just before the latest assistant message: the previous request wrote its prefix
       exactly there, so this one reads it back however much the step added;
    3. the last cacheable block of the final message, which writes the prefix that
       the next request reads.

    Without a system prompt the last tool takes the first breakpoint. Thinking blocks
    cannot carry ``cache_control``, so a message's last cacheable block is its last
    other block. Breakpoints the caller put on tools are kept; if they leave fewer than
    three, the system prompt goes first, then the final message, then the previous end.
    Those the caller put in the two marked messages are replaced. Only the last few
    messages are looked at, so the cost does not grow with the conversation beyond
    copying the list: breakpoints a caller left in older messages are not looked for
    (the histories this package keeps have none, since only copies are marked).

    ``request.container`` goes out as ``container``; ``request.extra`` entries go out as
    keywords where ``messages.stream`` takes them (overriding the request's own fields),
    the rest in ``extra_body``. ``request.task_budget`` joins ``output_config`` where the
    model takes one (its beta header is the caller's).
    """
    params: dict[str, Any] = {"model": request.model, "max_tokens": request.max_tokens}
    tools = list(request.tools)
    budget = MAX_BREAKPOINTS - sum("cache_control" in tool for tool in tools)
    if request.system:
        system = {"type": "text", "text": request.system}
        params["system"] = [{**system, "cache_control": CACHE_CONTROL} if budget > 0 else system]
        budget -= 1
    elif tools and budget == MAX_BREAKPOINTS:
        tools[-1] = {**tools[-1], "cache_control": CACHE_CONTROL}
        budget -= 1
    if tools:
        params["tools"] = tools
    messages = list(request.messages)
    for index in (len(messages) - 1, _previous_end(messages)):
        if index is not None and index >= 0:
            messages[index], placed = _place_breakpoint(messages[index], allowed=budget > 0)
            budget -= placed
    params["messages"] = messages
    if request.container is not None:
        container = request.container
        params["container"] = container if isinstance(container, str) else dict(container)
    body: dict[str, Any] = {}
    for name, value in request.extra.items():
        (params if name in _STREAM_KEYWORDS else body)[name] = value
    if body:
        params["extra_body"] = body
    if takes_task_budget(request):
        output_config = {**params.get("output_config", {}), "task_budget": request.task_budget}
        params["output_config"] = output_config
    return params


def takes_task_budget(request: ModelRequest) -> bool:
    """Whether ``request.task_budget`` can go out: a budget the API takes, on a model that
    takes one, through an SDK that knows the beta."""
    budget = request.task_budget
    return (
        budget is not None
        and budget["total"] >= MIN_TASK_BUDGET
        and base_model(request.model) in TASK_BUDGET_MODELS
        and hasattr(anthropic.types.beta, "BetaTokenTaskBudgetParam")
    )


def _previous_end(messages: Sequence[Mapping[str, Any]]) -> int | None:
    """The index of the message that ended the previous request, if one is within reach.

    That request's answer is the latest assistant message; the message before it was
    its last. ``None`` on a conversation's first request.
    """
    last = len(messages) - 1
    for index in range(last, max(0, last - _PREVIOUS_END_REACH), -1):
        if messages[index].get("role") == "assistant":
            return index - 1
    return None


def _place_breakpoint(
    message: Mapping[str, Any], *, allowed: bool
) -> tuple[Mapping[str, Any], bool]:
    """``message`` with a breakpoint on its last cacheable block only, and whether one was placed.

    Breakpoints the caller put in it are dropped, so the count stays known; without
    ``allowed`` none is placed. ``message`` itself comes back when nothing changes.
    """
    content = message.get("content")
    if isinstance(content, str):
        content = [{"type": "text", "text": content}] if content and allowed else None
    if not isinstance(content, list | tuple):
        return message, False
    blocks = [_unmarked(block) for block in content]
    placed = allowed and _mark_last_cacheable(blocks)
    if not placed and all(new is old for new, old in zip(blocks, content, strict=True)):
        return message, False
    return {**message, "content": blocks}, placed


def _mark_last_cacheable(blocks: list[Any]) -> bool:
    """Put a breakpoint on the last block that may carry one; whether there was such a block."""
    for index in range(len(blocks) - 1, -1, -1):
        block = blocks[index]
        if isinstance(block, Mapping) and block.get("type") not in _UNCACHEABLE_BLOCKS:
            blocks[index] = {**block, "cache_control": CACHE_CONTROL}
            return True
    return False


def _unmarked(block: Any) -> Any:
    if isinstance(block, Mapping) and "cache_control" in block:
        return {key: value for key, value in block.items() if key != "cache_control"}
    return block
