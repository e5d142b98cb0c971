"""Today's Messages API rules: what a request is held to before any scripted reply is
used, and what they add to the reply.

Split from server.py: the server routes and streams; this module says what the API
of late 2026 accepts and what the model reads. In the order they are checked:

1. **Model rules.** ``FORCED_TOOL_CHOICE_REFUSED`` lists the models that refuse a forced
   ``tool_choice`` (``any`` or a named ``tool``); with thinking on, every model refuses
   one, as the API does. The rest comes from the model's listed ``capabilities``
   (``models.py``): a ``thinking`` type, an ``output_config.effort`` level or a
   ``context_management`` edit marked unsupported is a 400. A model the list lacks is
   held to nothing but the forced ``tool_choice`` table.
2. **Context management is a beta.** ``clear_thinking_20251015`` and
   ``clear_tool_uses_20250919`` need ``anthropic-beta: context-management-2025-06-27``,
   ``compact_20260112`` needs ``compact-2026-01-12`` (the docs' compaction example sends
   only that one); ``clear_thinking_20251015`` must be the first edit.
3. **Signatures.** Each thinking, redacted thinking or compaction block of an assistant
   message must be signed for the request's model as it stands (``signatures.py``).
4. **The window.** The prompt the model reads (tools, system, and the messages from
   the last compaction block on, after the clearing edits, in the order given) may hold
   at most the model's ``max_input_tokens`` (``DEFAULT_WINDOW`` for a model not listed):
   past it, ``prompt is too long: N tokens > M maximum``.
5. **Compaction.** Past its trigger (default ``COMPACTION_TRIGGER``), a
   ``compact_20260112`` edit makes the reply begin with a signed ``compaction`` block that
   summarizes the prompt (``editing.summarize``); with ``pause_after_compaction`` that
   block is the whole reply (``stop_reason: "compaction"``, no scripted reply used).
   The prompt is then counted as that block alone (usage and cache), and ``usage``
   lists the compaction's own iteration.

The reply carries ``context_management.applied_edits`` whenever the request asked for
context management (``[]`` when no edit cleared anything); its thinking is signed, and
empty under ``thinking.display == "omitted"``.

Where it departs from the API: the window holds the prompt as it stands before this
request's compaction (which must read all of it); compaction comes after the clearing
edits wherever it stands in the list; there is no minimum trigger; the compaction
block errors the SDK names (``compaction_block_ambiguous``, ``..._misplaced``) are not
raised: the last compaction block wins; ``count_tokens`` applies the edits and checks
nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .editing import (
    clear_thinking,
    clear_tool_uses,
    from_last_compaction,
    last_compaction,
    summarize,
)
from .models import ModelsState, base_id
from .prompts import count_tokens
from .replies import ErrorReply
from .signatures import SIGNED_TYPES, Signatures

__all__ = [
    "COMPACTION_TRIGGER",
    "EDIT_BETAS",
    "FORCED_TOOL_CHOICE_REFUSED",
    "PreparedRequest",
    "TodayRules",
]

FORCED_TOOL_CHOICE_REFUSED = frozenset({"claude-opus-5-5"})
"""Models (ids without a date) that answer a forced ``tool_choice`` with a 400: Opus 5.5
always thinks, and thinking rules out forcing a tool."""
EDIT_BETAS = {
    "clear_thinking_20251015": "context-management-2025-06-27",
    "clear_tool_uses_20250919": "context-management-2025-06-27",
    "compact_20260112": "compact-2026-01-12",
}
"""The ``anthropic-beta`` each context edit needs."""
COMPACTION_TRIGGER = 150_000
"""Input tokens past which ``compact_20260112`` compacts, unless its ``trigger`` says."""
_THINKING_ON = ("adaptive", "enabled")


@dataclass(frozen=True)
class PreparedRequest:
    """A Messages API request that passed the rules, and what the model reads of it."""

    body: dict[str, Any]
    """The request as sent."""
    prompt: dict[str, Any]
    """What the model reads (model, tools, system, messages); usage and the cache count it."""
    input_tokens: int
    """The prompt's tokens after the clearing edits, before any compaction: what the
    window holds it to."""
    counted_from: int = 0
    """Index of the message holding the compaction block the prompt starts at (0: none)."""
    applied_edits: tuple[dict[str, Any], ...] = ()
    """The clearing edits that cleared something, as ``applied_edits`` reports them."""
    compaction: dict[str, Any] | None = None
    """The signed compaction block this request's reply begins with."""
    paused: bool = False
    """``pause_after_compaction``: the compaction block is the whole reply."""

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))

    @property
    def omits_thinking(self) -> bool:
        thinking = self.body.get("thinking")
        return isinstance(thinking, Mapping) and thinking.get("display") == "omitted"

    @property
    def context_management(self) -> dict[str, Any] | None:
        """The response's ``context_management``; ``None`` when the request had none."""
        if self.body.get("context_management") is None:
            return None
        return {"applied_edits": [dict(edit) for edit in self.applied_edits]}


class TodayRules:
    """Checks requests against today's rules and shapes their replies (``api.today``)."""

    def __init__(self, models: ModelsState, signatures: Signatures) -> None:
        self.models = models
        self.signatures = signatures

    def prepare(self, body: dict[str, Any], betas: str) -> PreparedRequest | ErrorReply:
        """``body`` checked and read as the model reads it, or the API's 400 for it.

        ``betas`` is the request's ``anthropic-beta`` header (comma-separated).
        """
        refused = (
            self._model_problem(body)
            or self._editing_problem(body, {beta.strip() for beta in betas.split(",")})
            or self._signature_problem(body)
            or _compaction_problem(body.get("messages") or [])
        )
        if refused is not None:
            return refused
        messages, start = from_last_compaction(body.get("messages") or [])
        prompt = {key: body[key] for key in ("model", "tools", "system") if key in body}
        prompt["messages"] = messages
        edits = _edits(body)
        prompt["messages"], applied = _clear(prompt, edits)
        tokens = count_tokens(prompt)
        window = self.models.window(self._model(body))
        if tokens > window:
            message = f"prompt is too long: {tokens} tokens > {window} maximum"
            return ErrorReply(400, "invalid_request_error", message)
        prepared = PreparedRequest(body, prompt, tokens, start, applied)
        compact = next((e for e in edits if e.get("type") == "compact_20260112"), None)
        if compact is not None and tokens > _trigger(compact):
            return self._compacted(prepared, compact)
        return prepared

    def shape(
        self, request: PreparedRequest, content: Iterable[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """The reply's content as sent: the compaction block first, thinking signed for
        the request's model (its text empty when the request omits thinking)."""
        blocks = []
        for block in content:
            if block.get("type") == "thinking" and request.omits_thinking:
                block = {**block, "thinking": ""}
            blocks.append(self.signatures.sign(block, request.model))
        return [request.compaction, *blocks] if request.compaction else blocks

    def count(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The ``count_tokens`` answer: the prompt as the model would read it."""
        prompt = {key: body[key] for key in ("model", "tools", "system") if key in body}
        prompt["messages"], _ = from_last_compaction(body.get("messages") or [])
        prompt["messages"], _ = _clear(prompt, _edits(body))
        counted: dict[str, Any] = {"input_tokens": count_tokens(prompt)}
        if body.get("context_management") is not None:
            counted["context_management"] = {"original_input_tokens": count_tokens(body)}
        return counted

    def _compacted(self, prepared: PreparedRequest, edit: Mapping[str, Any]) -> PreparedRequest:
        summary = summarize(prepared.prompt["messages"], edit.get("instructions"))
        block = self.signatures.sign({"type": "compaction", "content": summary}, prepared.model)
        prompt = {**prepared.prompt, "messages": [{"role": "assistant", "content": [block]}]}
        return PreparedRequest(
            prepared.body,
            prompt,
            prepared.input_tokens,
            prepared.counted_from,
            prepared.applied_edits,
            block,
            bool(edit.get("pause_after_compaction")),
        )

    def _model(self, body: Mapping[str, Any]) -> str:
        return str(body.get("model", ""))

    def _model_problem(self, body: Mapping[str, Any]) -> ErrorReply | None:
        model = self._model(body)
        thinking = body.get("thinking") if isinstance(body.get("thinking"), Mapping) else {}
        kind = thinking.get("type")
        choice = body.get("tool_choice") if isinstance(body.get("tool_choice"), Mapping) else {}
        if choice.get("type") in ("any", "tool"):
            if base_id(model) in FORCED_TOOL_CHOICE_REFUSED:
                return _invalid(
                    f"tool_choice: {model} does not support forcing tool use "
                    f'(type "{choice["type"]}"); use "auto" or "none"'
                )
            if kind in _THINKING_ON:
                return _invalid("Thinking may not be enabled when tool_choice forces tool use.")
        listed = self.models.find(model)
        caps = listed.get("capabilities") if listed else None
        if not isinstance(caps, Mapping):
            return None
        if kind is not None and not _supported(caps, "thinking", "types", kind):
            return _invalid(f'thinking.type: "{kind}" is not supported by {model}')
        effort = (body.get("output_config") or {}).get("effort")
        if effort is not None and not (
            _supported(caps, "effort") and _supported(caps, "effort", effort)
        ):
            return _invalid(f'output_config.effort: "{effort}" is not supported by {model}')
        return None

    def _editing_problem(self, body: Mapping[str, Any], betas: set[str]) -> ErrorReply | None:
        if body.get("context_management") is None:
            return None
        edits = _edits(body)
        kinds = [edit.get("type") for edit in edits]
        for index, kind in enumerate(kinds):
            where = f"context_management.edits.{index}"
            if kind not in EDIT_BETAS:
                return _invalid(
                    f"{where}.type: unknown edit {kind!r}; use one of {', '.join(EDIT_BETAS)}"
                )
            if EDIT_BETAS[kind] not in betas:
                return _invalid(
                    f"{where}: {kind} needs the `anthropic-beta: {EDIT_BETAS[kind]}` header"
                )
        if "clear_thinking_20251015" in kinds[1:]:
            return _invalid(
                "context_management.edits: clear_thinking_20251015 must be the first edit"
            )
        listed = self.models.find(self._model(body))
        caps = listed.get("capabilities") if listed else None
        if not isinstance(caps, Mapping):
            return None
        model = self._model(body)
        for index, kind in enumerate(kinds):
            if not (
                _supported(caps, "context_management")
                and _supported(caps, "context_management", kind)
            ):
                return _invalid(
                    f"context_management.edits.{index}: {kind} is not supported by {model}"
                )
        return None

    def _signature_problem(self, body: Mapping[str, Any]) -> ErrorReply | None:
        """The 400 for the first signed block, from the last compaction on, that fails."""
        messages = body.get("messages") or []
        first_message, first_block = last_compaction(messages) or (0, 0)
        model = self._model(body)
        for i in range(first_message, len(messages)):
            content = messages[i].get("content")
            if messages[i].get("role") != "assistant" or not isinstance(content, list):
                continue
            start = first_block if i == first_message else 0
            for j in range(start, len(content)):
                block = content[j]
                if isinstance(block, Mapping) and block.get("type") in SIGNED_TYPES:
                    problem = self.signatures.problem(block, model, f"messages.{i}.content.{j}")
                    if problem is not None:
                        return problem
        return None


def _edits(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    config = body.get("context_management")
    edits = config.get("edits") if isinstance(config, Mapping) else None
    return [edit for edit in edits or [] if isinstance(edit, Mapping)]


def _clear(
    prompt: Mapping[str, Any], edits: list[Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], tuple[dict[str, Any], ...]]:
    """The prompt's messages after the clearing edits, in order, and what they cleared."""
    messages = prompt["messages"]
    applied = []
    for edit in edits:
        if edit.get("type") == "clear_thinking_20251015":
            messages, done = clear_thinking(messages, edit)
        elif edit.get("type") == "clear_tool_uses_20250919":
            messages, done = clear_tool_uses({**prompt, "messages": messages}, edit)
        else:
            continue
        if done is not None:
            applied.append(done)
    return messages, tuple(applied)


def _trigger(edit: Mapping[str, Any]) -> int:
    trigger = edit.get("trigger") or {}
    return int(trigger.get("value", COMPACTION_TRIGGER))


def _supported(caps: Mapping[str, Any], *path: str) -> bool:
    """Whether the capability at ``path`` says ``supported``; a missing leaf is unsupported."""
    node: Any = caps
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
    return isinstance(node, Mapping) and bool(node.get("supported"))


def _compaction_problem(messages: list[Any]) -> ErrorReply | None:
    """The API's 400 when a compaction block is sent anywhere but first, or with another
    one (the SDK's ``compaction_block_misplaced`` and ``compaction_block_ambiguous``)."""
    found = [
        (i, j)
        for i, message in enumerate(messages)
        if isinstance(message.get("content"), list)
        for j, block in enumerate(message["content"])
        if isinstance(block, Mapping) and block.get("type") == "compaction" and block.get("content")
    ]
    if len(found) > 1:
        message = "messages holds more than one compaction block with content"
        return ErrorReply(
            400, "invalid_request_error", message, error_code="compaction_block_ambiguous"
        )
    if found and found[0] != (0, 0):
        i, j = found[0]
        message = f"messages.{i}.content.{j}: the compaction block is not the first block of the conversation"
        return ErrorReply(
            400, "invalid_request_error", message, error_code="compaction_block_misplaced"
        )
    return None


def _invalid(message: str) -> ErrorReply:
    return ErrorReply(400, "invalid_request_error", message)
